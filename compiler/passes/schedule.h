// Pass scheduling: which sweeps over the tensor compute which reductions and the output.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/kir/kir.h"

namespace kmr::passes {

/// When a node's value is known: before sweep `sweep` of pass `pass` (both 0-based). A
/// value per element is computed inside that sweep; a reduction over rows or groups is
/// known after the sweep that accumulates it, for that row; a reduction over the whole
/// tensor only in the next pass.
struct Placement {
  int pass = 0;
  int sweep = 0;
  bool operator<(const Placement& other) const {
    return pass != other.pass ? pass < other.pass : sweep < other.sweep;
  }
};

/// One sweep over a row's elements (the row stays in cache between the sweeps of a pass).
struct Sweep {
  std::vector<const kir::Node*> reductions;  // element-domain reductions accumulated here
  bool output = false;                       // writes the kernel's output
  bool check_input = false;                  // rejects NaN/Inf weights (the first sweep)
};

/// One pass over the tensor (every row, rows partitioned over threads): each row runs the
/// pass's sweeps in order.
struct Pass {
  std::vector<Sweep> sweeps;
};

/// A row maximum of pruned magnitudes known without a sweep of its own (the scale of
/// `prune |> quantize`): R = max(select(x >= q, x, 0), over = row), where the comparison
/// is by rank with q = quantile(x, s, over = all) and x is never negative or NaN (or
/// R = max(abs(select(x >= q, y, 0)), over = row) with x = abs(y)). Every kept unit is at
/// most the row's maximum M of x, and the row's top unit (M, last among equals) is kept
/// exactly when M > q, or M == q and q's unit is not in a later row; otherwise no unit of
/// the row is kept. So R is M or 0, from M, q's value and position, and the row index.
/// M is accumulated where x is, in the pass before q is known.
struct KeptRowMax {
  kir::NodeRef row_max;       // M = max(x, over = row): a node the schedule adds
  const kir::Node* quantile;  // q
};

struct Schedule {
  std::vector<Pass> passes;
  int output_pass = 0, output_sweep = 0;
  std::unordered_map<const kir::Node*, Placement> at;  // every node of the kernel, and the row maxima added
  /// Nodes that are not per element, in topological order (the executor's scalar work).
  std::vector<const kir::Node*> coarse;
  std::unordered_map<const kir::Node*, KeptRowMax> kept_row_max;  // by R
};

/// Schedules `kernel` (verified): reductions are hoisted into the fewest passes their
/// dependencies allow. A reduction over the whole tensor is accumulated in the pass where
/// its operand is available and usable from the next; a reduction over rows or groups is
/// accumulated in a sweep of the same pass and usable in the next sweep. The output is
/// written in the first sweep where all it reads is known, in the same loop as the
/// reductions of the measures that are available then; any measure needing more runs in
/// later passes. Guarantees: every pass has at least one sweep, and the first pass's
/// first sweep checks the input.
Schedule schedule(const kir::Kernel& kernel);

/// `schedule: 2 passes over the tensor (1 pre-pass)`, then one line per sweep.
std::string print_schedule(const kir::Kernel& kernel, const Schedule& schedule);

}  // namespace kmr::passes
