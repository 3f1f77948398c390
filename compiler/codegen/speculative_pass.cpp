// Magnitude pruning, alone or fused into a per-row quantiser, in one read of the tensor
// (Layout::speculation). Each row runs the pre-pass (its units counted and collected
// against the quantile's bracket, its maximum) and, while it is still in cache, the output
// pass on E, the sample's estimate of the quantile Q. Once Q is selected, what E decided
// differently is fixed:
// - a unit compares differently with E and with Q only if it lies between them, inside
//   the bracket: it is one of the candidates the selection set aside as lying between E
//   and Q's first-digit bucket (GlobalSelect::near_estimate). Per row, the output sweep's
//   gather variant runs over those units, once on E to take their shares out of the sums,
//   once on Q to write them and add their shares;
// - a row value depends on Q only through whether the row's top unit is kept (KeptRowMax):
//   rows where E and Q disagree run the output pass again.
// When Q is not inside the bracket, or the output pass flagged a failure, the output pass
// runs again over the whole tensor on Q: slower, never different.
#include <algorithm>
#include <atomic>

#include "compiler/codegen/executor_testing.h"
#include "compiler/codegen/run_state.h"

namespace kmr::codegen {
namespace {

// E stands before every unit of its value.
constexpr int64_t kEstimatePos = 0;

std::atomic<int64_t> runs_in_one_read{0};  // testing::one_read_runs

// A unit's place against a threshold, both as (key, position): 2 above, 1 at, 0 below.
// Branch-free: candidates straddle both thresholds, so branches on them would mispredict.
inline int place(uint32_t key, int64_t pos, uint32_t threshold_key, int64_t threshold_pos) {
  bool same = key == threshold_key;
  bool above = (key > threshold_key) | (same & (pos > threshold_pos));
  bool at = same & (pos == threshold_pos);
  return 2 * above + at;
}

}  // namespace

std::atomic<bool>& testing::speculation_enabled() {
  static std::atomic<bool> enabled{true};
  return enabled;
}
int64_t testing::one_read_runs() { return runs_in_one_read.load(); }

bool RunState::run_speculative() {
  const Speculation& spec = L.speculation;
  if (spec.quantile < 0 || !code.gather || !testing::speculation_enabled().load()) return false;
  GlobalSelect* g = select_of(spec.quantile);
  if (!g || !g->estimate) return false;
  const NodeInfo& q = L.nodes[spec.quantile];
  us[q.slot] = *g->estimate;
  us[q.pos_slot] = from_i64(kEstimatePos);
  ++runs_in_one_read;
  for (int id : L.uniform_before[1]) eval_uniform(id);
  begin_pass(1);
  for_rows([&](int64_t row, Worker& w, int64_t task) {
    process_row(0, row, w, Mode::Normal, 0, nullptr, task);
    process_row(1, row, w, Mode::Normal, 0, nullptr, task);
  });
  return true;
}

void RunState::settle_speculation() {
  const Speculation& spec = L.speculation;
  float estimate = *select_of(spec.quantile)->estimate;
  if (!select_over_all(spec.quantile, true)) {
    // Q outside the bracket: which units lie between E and Q is not known.
    select_over_all(spec.quantile, false);
    return run_pass(1);
  }
  std::vector<char> redo = rows_to_redo(estimate);
  std::atomic<bool> unsure{false};
  int64_t tasks = row_tasks();
  pool.run(tasks, threads, [&](int64_t task, int worker) {
    Worker& w = workers[worker];
    fix_units(task, w, estimate, redo, unsure);
    for (int64_t row = rows * task / tasks; row < rows * (task + 1) / tasks; ++row)
      if (redo[row]) process_row(1, row, w, Mode::Normal, 0, nullptr, task);
  });
  // A failure flagged on E may not be one on Q (and the diagnostics read the flags).
  if (unsure || output_pass_flagged()) run_pass(1);
}

std::vector<char> RunState::rows_to_redo(float estimate) const {
  const NodeInfo& q = L.nodes[L.speculation.quantile];
  double q_value = us[q.slot];
  int64_t q_pos = as_i64(us[q.pos_slot]);
  std::vector<char> redo(rows, 0);
  for (int id : L.speculation.kept_max) {
    int max_slot = L.nodes[L.nodes[id].kept_max].slot;
    for (int64_t row = 0; row < rows; ++row) {
      double max = rs[row * L.row_slots + max_slot];
      redo[row] |= top_unit_kept(max, estimate, kEstimatePos, row) != top_unit_kept(max, q_value, q_pos, row);
    }
  }
  return redo;
}

void RunState::fix_units(int64_t task, Worker& w, float estimate, const std::vector<char>& redo,
                         std::atomic<bool>& unsure) {
  const Speculation& spec = L.speculation;
  const NodeInfo& q = L.nodes[spec.quantile];
  const SweepPlan& plan = L.sweeps[1][0];
  uint32_t estimate_key = rank_key(estimate), q_key = rank_key(static_cast<float>(us[q.slot]));
  int64_t q_pos = as_i64(us[q.pos_slot]);
  // The units to fix, in position order: those whose place differs between E and Q, and
  // their weights where the candidates hold them (GlobalSelect::weights).
  const GlobalSelect& g = *select_of(spec.quantile);
  const auto& candidates = g.near_estimate[task];
  std::vector<int64_t>& units = w.positions;
  std::vector<float>& weights = w.weights;
  units.resize(candidates.size());
  weights.resize(candidates.size());
  size_t n_units = 0;
  for (const Candidate& unit : candidates) {
    uint32_t key = rank_key(g.unit_of(unit));
    units[n_units] = unit.pos;
    weights[n_units] = static_cast<float>(unit.value);
    n_units += place(key, unit.pos, estimate_key, kEstimatePos) != place(key, unit.pos, q_key, q_pos);
  }
  // Per row: its units' columns as the gather list [n, c1, ..., cn], the sweep on E (its
  // shares out), then on Q (the outputs written, its shares in).
  std::vector<double> on_estimate = us;
  on_estimate[q.slot] = estimate;
  on_estimate[q.pos_slot] = from_i64(kEstimatePos);
  std::vector<double> slots(L.row_slots);
  std::vector<int64_t> list;
  std::vector<double> shares_on_estimate(spec.additive.size());
  auto* scratch = reinterpret_cast<uint8_t*>(w.scratch.data());
  auto* out_base = L.result == kir::ResultKind::Tensor ? reinterpret_cast<uint8_t*>(out.values.data()) : out.codes.data();
  size_t out_size = L.result == kir::ResultKind::Tensor ? sizeof(float) : 1;
  // The units are scattered over the tensor, each a cache miss (and a page walk): their
  // outputs (and weights, when read from the tensor) are prefetched well ahead.
  constexpr size_t kAhead = 32;
  size_t prefetched = 0;
  for (size_t i = 0; i < n_units;) {
    for (; prefetched < std::min(n_units, i + kAhead); ++prefetched) {
      if (!g.weights) __builtin_prefetch(in.data + units[prefetched], 0, 0);
      __builtin_prefetch(out_base + units[prefetched] * static_cast<int64_t>(out_size), 1, 0);
    }
    int64_t row = units[i] / cols;
    size_t first = i;
    list.assign(1, 0);
    for (; i < n_units && units[i] / cols == row; ++i) list.push_back(units[i] - row * cols);
    if (redo[row]) continue;
    list[0] = static_cast<int64_t>(list.size()) - 1;
    // The gather sweep reads the units' weights packed in list order.
    if (!g.weights)
      for (size_t u = first; u < i; ++u) weights[u] = in.data[units[u]];
    const float* in_row = weights.data() + first;
    void* out_row = out_base + row * cols * static_cast<int64_t>(out_size);
    double* row_slots = &rs[row * L.row_slots];
    std::copy_n(row_slots, L.row_slots, slots.begin());
    auto record = reinterpret_cast<double*>(list.data());
    code.gather(in_row, out_row, slots.data(), w.gs.data(), on_estimate.data(), ix.data(), scratch, row, record);
    for (size_t a = 0; a < spec.additive.size(); ++a) shares_on_estimate[a] = slots[L.nodes[spec.additive[a]].partial_slot];
    code.gather(in_row, out_row, slots.data(), w.gs.data(), us.data(), ix.data(), scratch, row, record);
    for (size_t a = 0; a < spec.additive.size(); ++a) {
      const NodeInfo& info = L.nodes[spec.additive[a]];
      double& partial = row_slots[info.partial_slot];
      double share = slots[info.partial_slot];
      if (static_cast<kir::ReduceOp>(info.node->op) == kir::ReduceOp::Count)
        partial = from_i64(as_i64(partial) + as_i64(share) - as_i64(shares_on_estimate[a]));
      else
        partial += share - shares_on_estimate[a];
    }
    if (failure_flagged(slots.data(), plan)) unsure = true;
  }
}

bool RunState::output_pass_flagged() const {
  const SweepPlan& plan = L.sweeps[1][0];
  for (int64_t row = 0; row < rows; ++row)
    if (failure_flagged(&rs[row * L.row_slots], plan)) return true;
  return false;
}

}  // namespace kmr::codegen
