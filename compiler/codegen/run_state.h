// The state of one kernel run, shared by the executor's files (executor.cpp drives the
// passes, coarse_eval.cpp computes coarse values, global_quantile.cpp selects over all,
// speculative_pass.cpp runs a pre-pass and the output pass in one read).
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "compiler/codegen/compiled_kernel.h"
#include "compiler/codegen/rank_select.h"
#include "compiler/codegen/thread_pool.h"
#include "compiler/kir/tensor.h"

namespace kmr::codegen {

constexpr int64_t kPastEnd = std::numeric_limits<int64_t>::max();

inline int64_t as_i64(double slot) {
  int64_t v;
  std::memcpy(&v, &slot, sizeof v);
  return v;
}
inline double from_i64(int64_t v) {
  double slot;
  std::memcpy(&slot, &v, sizeof slot);
  return slot;
}

/// A unit of a tensor-wide quantile that may be the one selected: its value and position.
struct Candidate {
  // Left unset: the scans grow their lists by resize and then write the candidates in
  // place (zeroing them first cost more than the writes).
  Candidate() {}  // NOLINT(modernize-use-equals-default): `= default` would zero them in resize
  // Constructed in place by emplace_back: a pushed temporary is stored as two 8-byte
  // halves and reloaded as one 16-byte vector, which store forwarding cannot serve.
  Candidate(double value, int64_t pos) : value(value), pos(pos) {}
  double value;
  int64_t pos;
};

/// One task's candidates (tasks are row blocks, in order) and its units below the bracket.
/// Neighbouring tasks run at the same time on the two cores, and the list's end is written
/// with every candidate: each task on its own cache line.
struct alignas(64) TaskCandidates {
  std::vector<Candidate> list;
  // Of f32 units: each candidate's first radix digit (count_collected), which the
  // selection reads instead of the 8x larger list.
  std::vector<uint16_t> digits;
  int64_t below = 0;
  size_t published = 0;  // of the list's size, added to GlobalSelect::collected
};

/// One exact quantile over a whole tensor while its pass runs (global_quantile.cpp): either
/// the units inside a bracket of keys [lo, hi] are collected (and those below counted),
/// or a histogram of the keys' top bits is built.
struct GlobalSelect {
  int id = -1, pass = 0, sweep = 0;  // the quantile, and the sweep that fills its scratch rows
  int index = 0;                     // in RunState::selects (and Worker::hist)
  bool bracket = false;
  uint64_t lo = 0, hi = 0;
  std::vector<TaskCandidates> found;  // per task
  // The candidates the tasks have published, in steps (an atomic add per row was contended
  // between the cores): an early sign of overflow. Whether the whole exceeds the cap is
  // decided on the exact total after the pass.
  std::atomic<int64_t> collected{0};
  std::atomic<bool> overflow{false};
  std::optional<float> estimate;  // the sample's unit at rank k's place (Layout::speculation)
  std::vector<std::vector<Candidate>> near_estimate;  // per task: candidates between it and the result
  std::vector<std::vector<int64_t>> digits;  // per worker: f32 candidates by their first radix digit
  // Whether the native weight scan collects the candidates (plan_select decides for the
  // run): their values are then the weights themselves (the one-read pass's fix-up takes
  // them instead of reading the tensor again), whose units are their magnitudes when
  // `magnitude`.
  bool weights = false, magnitude = false;
  /// A candidate's unit (the quantile's operand) as f32.
  float unit_of(const Candidate& c) const { return unit_of(c, magnitude); }
  static float unit_of(const Candidate& c, bool magnitude) {
    auto v = static_cast<float>(c.value);
    return magnitude ? std::fabs(v) : v;
  }
};

/// Whether a row's slots hold a failure flagged by sweep `plan` (a domain error or a
/// non-finite output), which the diagnostic sweep then describes.
inline bool failure_flagged(const double* row_slots, const SweepPlan& plan) {
  return row_slots[plan.flag_slot + kFlagDomain] != 0 || row_slots[plan.flag_slot + kFlagOutput] != 0;
}

/// The vectors of a row that hold units inside a quantile's bracket, as the vector scan
/// records them: (first column << 16) | the lanes inside.
struct ScanHits {
  std::vector<uint64_t> vectors;
};

/// One worker's buffers: the current row's group slots and quantile scratch rows.
struct Worker {
  std::vector<double> gs;
  std::vector<double> scratch;  // 8-byte aligned; quantile rows at byte offsets ix[scratch_base + i]
  std::vector<std::vector<uint64_t>> hist;  // per GlobalSelect: level-1 histogram
  SelectScratch select;
  std::vector<float> units32;   // units gathered for a select (a sample, candidates)
  std::vector<double> units64;
  ScanHits hits;
  std::vector<Candidate> inside;  // a sample's units inside a bracket (select_close_ranks)
  std::vector<float> units_inside;
  std::vector<int64_t> positions;  // units to fix after a speculative pass
  std::vector<float> weights;      // their weights, packed row by row for the gather sweep
  std::array<double, kDiagRecordSize> record{};
};

/// What a run leaves to the next: the workers' buffers and the candidate lists of quantiles
/// over all. Fresh ones are page faults on every run (2 ms of a fused prune + quantise run
/// over 180 MB on the project's machine). What is kept is bounded by the largest run: a
/// row's scratch per worker, a sample, and candidates up to the cap (2^20, 16 MB).
struct RunBuffers {
  std::vector<Worker> workers;
  std::vector<TaskCandidates> candidates;
};

/// Keeps one RunBuffers between runs (a run that finds it taken makes its own).
class BufferCache {
 public:
  RunBuffers take() {
    std::lock_guard<std::mutex> lock(mutex_);
    RunBuffers out = std::move(kept_);
    kept_ = {};
    return out;
  }
  void put(RunBuffers buffers) {
    std::lock_guard<std::mutex> lock(mutex_);
    kept_ = std::move(buffers);
  }

 private:
  std::mutex mutex_;
  RunBuffers kept_;
};

class RunState {
 public:
  RunState(const CompiledKernel& code, const kir::Kernel& kernel, const kir::TensorView& input,
           const kir::ParamValues& params, ThreadPool& pool, BufferCache& cache, int threads, kir::KernelOutput& out);
  ~RunState();
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;
  Status run();

  // What a row's processing does after its sweeps (see process_row).
  enum class Mode { Normal, Rerun, Diagnose };
  using RowHook = std::function<void(int64_t row, Worker& worker, int64_t task)>;

  // -- executor.cpp
  void process_row(int pass, int64_t row, Worker& worker, Mode mode, int last_sweep, const RowHook& hook, int64_t task);
  /// Runs fn(row, worker, task) for every row, rows in contiguous blocks (tasks, in row order).
  void for_rows(const std::function<void(int64_t, Worker&, int64_t)>& fn);
  /// 32 blocks a thread: the threads finish a pass together within a small block (with 8
  /// a thread, one idled 30-700 us at the end of the fused kernel's 11 ms pass).
  int64_t row_tasks() const;
  /// Processes rows 0..rows of pass `pass` up to `last_sweep` again (idempotent: every
  /// row slot, group slot and scratch row is rewritten with the same values), then `hook`.
  void rerun(int pass, int last_sweep, const RowHook& hook) {
    for_rows([&](int64_t row, Worker& w, int64_t task) { process_row(pass, row, w, Mode::Rerun, last_sweep, hook, task); });
  }

  // -- coarse_eval.cpp
  void eval_uniform(int id);
  void eval_stage(int pass, int stage, int64_t row, Worker& worker);
  void finalize(int id);
  double coarse_at(int id, int64_t row, int64_t group, const Worker& worker) const;

  // -- global_quantile.cpp
  /// Before the pass that fills `g`'s scratch rows: a bracket from a sample of rows, or a histogram.
  void plan_select(GlobalSelect& g);
  /// After that sweep, for each row.
  void select_row(GlobalSelect& g, int64_t row, Worker& worker, int64_t task);
  void histogram_row(GlobalSelect& g, Worker& worker);
  /// Finishes quantile `id` after its pass: rank k among the bracket's candidates, else
  /// (unless `bracket_only`, which then returns false) by the fallback's re-reads.
  bool select_over_all(int id, bool bracket_only, bool inside_pool = false);
  /// The unit at rank `rank` among g's candidates (f32 units): the first radix level from
  /// the scans' counts, then the bucket's candidates gathered over both halves of the
  /// tasks in parallel (unless `inside_pool`: called from a pool task) and selected; fills
  /// g.near_estimate.
  Candidate select_candidate(GlobalSelect& g, int64_t rank, bool inside_pool);
  /// Runs sweep `plan` of a row as one native loop over its weights when it can
  /// (SweepPlan::native_quantile: AVX-512, a bracket of numbers); false when it cannot.
  bool scan_weights(const SweepPlan& plan, int64_t row, Worker& worker, int64_t task);
  /// Adds a row's scan to `part` of `g`: units below the bracket, and the candidates from
  /// `before` on (publishing their count, flagging an overflow of the cap; each one's first
  /// radix digit kept in `part` and counted in `w`'s histogram).
  void count_collected(GlobalSelect& g, TaskCandidates& part, int64_t below, size_t before, Worker& w);
  /// Empties `lists` into `spare_candidates`, their memory kept for the next use.
  void recycle(std::vector<TaskCandidates>& lists);
  GlobalSelect* select_of(int id) {
    for (auto& g : selects)
      if (g->id == id) return g.get();
    return nullptr;
  }

  // -- speculative_pass.cpp
  /// Runs passes 0 and 1 in one read of the tensor (Layout::speculation) when the quantile's
  /// bracket was sampled: pass 1 on the sample's estimate of it. False (nothing run) otherwise.
  bool run_speculative();
  /// After run_speculative and the weights' check: the exact quantile, then pass 1's results
  /// fixed where the estimate decided otherwise (or pass 1 run again where that is unknown).
  void settle_speculation();

  /// Records a failure; the one with the smallest key is reported (the interpreter's order:
  /// 3 coarse values by node, 4 bits, 5 scales, 6 output elements, 7 measures).
  void fail(std::array<int64_t, 3> key, const std::string& what);

  const CompiledKernel& code;
  const Layout& L;
  const kir::Kernel& kernel;
  const kir::TensorView& in;
  const kir::ParamValues& params;
  ThreadPool& pool;
  BufferCache& cache;
  int threads;
  int64_t rows = 0, cols = 0;

  // Per size class: the effective group size (as the interpreter reports it), the size
  // the loops use (at least 1), and groups per row.
  std::vector<int64_t> effective, size, groups;
  std::vector<int64_t> ix;
  std::vector<int64_t> gs_offset;     // per group slot
  std::vector<double> us, rs;         // uniform slots; rows x L.row_slots
  std::vector<std::vector<double>> kept;  // persistent group slots: [slot] rows x groups
  std::vector<std::unique_ptr<GlobalSelect>> selects;  // element-domain quantiles over all
  std::vector<Worker> workers;
  std::vector<TaskCandidates> spare_candidates;
  kir::KernelOutput& out;

  std::optional<std::pair<std::array<int64_t, 3>, std::string>> failure;
  std::mutex failure_mutex;

  double& row_slot(int64_t row, int slot) { return rs[row * L.row_slots + slot]; }
  /// passes::KeptRowMax: whether the top unit of row `row` (the last of its maximum M) is
  /// kept by a threshold at (value, position).
  bool top_unit_kept(double max, double q_value, int64_t q_pos, int64_t row) const {
    return max > q_value || (max == q_value && q_pos < (row + 1) * cols);
  }
  int64_t group_length(int size_class, int64_t group) const {
    return std::min(size[size_class], cols - group * size[size_class]);
  }

 private:
  Status prepare();
  void run_pass(int pass);
  /// Before pass `pass` runs: the code bounds (if it writes codes) and its selects' brackets.
  void begin_pass(int pass);
  void finish_pass(int pass);
  /// Prefetches the first rows of the first two row blocks (the threads' first tasks of a
  /// pass) while `selecting` holds, up to a budget well within a shared L3.
  void warm_rows(const std::atomic<bool>& selecting);
  void check_input_flags();
  void diagnose_flags();
  void set_code_bounds();
  // speculative_pass.cpp: the rows whose KeptRowMax values the estimate got wrong, and the
  // units of a task's rows whose comparison with the quantile it got wrong.
  std::vector<char> rows_to_redo(float estimate) const;
  void fix_units(int64_t task, Worker& w, float estimate, const std::vector<char>& redo, std::atomic<bool>& unsure);
  bool output_pass_flagged() const;
  void assemble_output();
  std::optional<int64_t> first_bad_weight() const;
};

}  // namespace kmr::codegen
