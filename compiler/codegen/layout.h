// Where a compiled kernel keeps every value: the slots shared by the generated sweep
// functions and the C++ executor that drives them (the ABI between the two).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/kir/kir.h"
#include "compiler/passes/optimize.h"

namespace kmr::codegen {

/// Bumped whenever the generated code or this layout changes meaning: part of every
/// cache key, so stale objects on disk are never loaded.
constexpr int kCodegenAbiVersion = 21;

/// The signature of every generated sweep function: one sweep over row `row`.
///   in       the row's cols f32 weights            out  the row's output (f32 or u8 codes)
///   rs       the row's slots (f64 / i64 bits)      gs   the row's group slots (a worker's buffer)
///   us       the uniform slots                     ix   cols, group sizes, group slot offsets
///   scratch  a worker's quantile scratch rows      row  the row index
/// `record` is written by the diagnostic variant (see DiagRecord) and read by the gather
/// variant (its column list, emit_llvm.h); normal sweeps ignore it.
using SweepFn = void (*)(const float* in, void* out, double* rs, double* gs, const double* us, const int64_t* ix,
                         uint8_t* scratch, int64_t row, double* record);

/// What a diagnostic sweep writes for the first failing element of its row, in element
/// order: [0] 1 when found, [1] the column, [2] the failure (DiagKind), [3] the value,
/// [4] the canonical id of the failing node.
enum class DiagKind { Domain = 1, Output = 2 };
constexpr int kDiagRecordSize = 5;

/// Row-slot flags each sweep leaves per row (as 0/1 doubles), at SweepPlan::flag_slot + i.
enum SweepFlag { kFlagInput = 0, kFlagDomain = 1, kFlagOutput = 2, kFlagCount = 3 };

/// ix[] layout: ix[0] = cols, then one group size per size class, then one offset (in
/// doubles, into gs) per group slot, then one byte offset (into scratch) per scratch.
struct IxLayout {
  int size_base = 1, offset_base = 1, scratch_base = 1, count = 1;
};

/// One node of the kernel, up to structural equality (equal subtrees share an id, so the
/// layout depends only on the kernel's structure, the key of compiled-code caches).
struct NodeInfo {
  const kir::Node* node = nullptr;  // a representative of the class
  passes::Placement at;             // when it is known
  int slot = -1;                    // uniform: us; row: rs; group: group slot index
  int pos_slot = -1;                // quantiles: the slot of the selected unit's position (i64 bits)
  int partial_slot = -1;            // element-domain reductions over all: per-row partial in rs
  int size_class = -1;              // group level (or the group of a group reduction)
  int scratch = -1;                 // element-domain quantiles: the scratch row they fill
  bool scratch_f64 = false;         // the scratch holds f64 (a coarse operand broadcast)
  bool persistent = false;          // group values read after their own pass
  int consumer = -1;                // domain-checked nodes: the first coarse node that reads them (error order)
  std::vector<int> operands;        // ids
  int size = -1;                    // group(g) reductions: the id of g
  int kept_max = -1, kept_quantile = -1;  // a passes::KeptRowMax's R: the ids of its M and q
  bool operand_never_minus_inf = false;   // RankCmp: its operand is a magnitude |x|
  bool only_measured = false;             // read by measures only, not by the tensor's result
};

/// One generated sweep.
struct SweepPlan {
  int pass = 0, sweep = 0;
  std::vector<int> reductions;   // element-domain reductions accumulated here
  bool output = false;
  bool check_input = false;
  std::vector<int> size_classes; // group sizes the loop's chunks must respect
  std::vector<int> reads;        // the coarse values its element computations read
  int flag_slot = -1;            // kFlagCount row slots
  bool has_domain_checks = false;
  // Prefetches the next row while it runs: its row is already cached (a later sweep of a
  // pass, or the output sweep of a Layout::speculation pass, after the pre-pass's scan).
  bool prefetch_next_row = false;
  // The pre-pass of magnitude pruning, which the executor may run as one native loop over
  // the weights (global_quantile.cpp: scan_weights) instead of this sweep and a scan of its
  // scratch row: the sweep does nothing but a quantile over all of abs(w) (or w), row
  // maxima of abs(w) and the weights' check. -1 when it does more.
  int native_quantile = -1;
  bool native_magnitude = false;
  std::vector<int> native_row_max;
};

/// A two-pass kernel whose output pass reads the pre-pass's quantile over all, Q, only
/// through rank comparisons of Q's own operand and through KeptRowMax values (magnitude
/// pruning, alone or fused into a per-row quantiser). The executor runs both passes in one
/// read of the tensor on an estimate of Q from the sample (speculative_pass.cpp), then
/// fixes the units between it and Q with the output sweep's gather variant. `quantile` is
/// -1 when the kernel does not qualify.
struct Speculation {
  int quantile = -1;
  std::vector<int> kept_max;  // the output pass's KeptRowMax values (row level)
  std::vector<int> additive;  // the output sweep's reductions over all: sums, means, counts
};

struct Layout {
  std::vector<NodeInfo> nodes;  // topological order (operands first)
  std::unordered_map<const kir::Node*, int> id_of;
  kir::ResultKind result = kir::ResultKind::Tensor;
  int value = -1, q = -1, scale = -1, zero = -1, bits = -1;
  std::vector<std::pair<std::string, int>> measures;

  std::vector<int> size_nodes;        // size class -> id of its (uniform) size node
  int uniform_slots = 0, row_slots = 0, group_slots = 0, scratch_count = 0;
  std::vector<int> group_slot_class;  // group slot -> size class
  int code_lo_slot = -1, code_hi_slot = -1;  // quantized: saturation bounds of codes
  bool q_finite_whole = false;  // quantized: passes::q_is_finite_whole (codes need no rounding)
  bool q_within_codes = false;  // and passes::q_within_codes (nor saturation)
  IxLayout ix;

  std::vector<std::vector<SweepPlan>> sweeps;          // [pass][sweep]
  std::vector<std::vector<std::vector<int>>> coarse;   // [pass][stage]: row/group nodes computed there
  std::vector<std::vector<int>> uniform_before;        // [pass 0..passes]: uniform nodes computed before it
  std::vector<std::vector<int>> finalize_after;        // [pass]: reductions over all finished after it
  Speculation speculation;

  std::string canonical;  // the structure as text: verifies cache hits
  uint64_t hash = 0;      // kir::structural_hash of the kernel

  int passes() const { return static_cast<int>(sweeps.size()); }
  int stages(int pass) const { return static_cast<int>(coarse[pass].size()); }
  const NodeInfo& info(const kir::Node* node) const { return nodes[id_of.at(node)]; }
};

/// Lays out `kernel` (prepared: verified and scheduled). Total: every node gets a place.
Layout make_layout(const passes::PreparedKernel& kernel);

/// Whether reduction or quantile `info` runs over elements (accumulated in a sweep).
bool element_domain(const NodeInfo& info);

/// Whether sweep `plan` can fail (and so has a diagnostic variant).
bool sweep_can_fail(const SweepPlan& plan);

/// The output sweep of a kernel with Layout::speculation (which has a gather variant), else null.
const SweepPlan* speculative_output(const Layout& layout);

/// The line `kmrc emit kir` prints under the schedule of a kernel that runs speculatively
/// (empty otherwise).
std::string describe_speculation(const kir::Kernel& kernel, const Layout& layout);

}  // namespace kmr::codegen
