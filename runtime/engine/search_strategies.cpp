// The built-in policies: grid, greedy (Budgeted-KMR), bisect and pareto.
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "runtime/engine/search.h"

namespace kmr::engine {
namespace {

bool budgets_hold(const TrialResult& trial) {
  for (const auto& constraint : trial.constraints)
    if (constraint.decl->kind == ast::DeclKind::Budget && !constraint.holds) return false;
  return true;
}

bool requirements_hold(const TrialResult& trial) {
  for (const auto& constraint : trial.constraints)
    if (constraint.decl->kind == ast::DeclKind::Require && !constraint.holds) return false;
  return true;
}

// Advances `config` to the next configuration in grid order; false after the last.
bool next_configuration(Configuration& config, const KnobSpace& space) {
  for (size_t i = config.size(); i-- > 0;) {
    if (++config[i] < space.slots[i].values.size()) return true;
    config[i] = 0;
  }
  return false;
}

}  // namespace

Expected<SearchOutcome> grid_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                    bool maximize) {
  TrialLog log(evaluator, limits, maximize);
  Configuration config(space.slots.size(), 0);
  size_t total = space.size();
  do {
    auto trial = log.measure(config);
    if (!trial) return trial.error();
    if (*trial == nullptr) break;
  } while (next_configuration(config, space));
  std::vector<std::string> notes;
  if (log.trials().size() < total)
    notes.push_back(fmt::format("grid capped: {} of {} configurations measured", log.trials().size(),
                                total == SIZE_MAX ? std::string("more than 2^64") : std::to_string(total)));
  return log.finish(std::move(notes));
}

Expected<SearchOutcome> greedy_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                      bool maximize) {
  TrialLog log(evaluator, limits, maximize);
  Configuration current = space.defaults();
  auto first = log.measure(current);
  if (!first) return first.error();
  if (*first == nullptr) return log.finish({"no trial fitted the search budget"});
  const TrialResult* here = *first;
  std::vector<int> direction(space.slots.size(), 0);  // the cost-reducing direction, once known
  // Knobs whose every value left the budgets' excess unchanged (a distillation
  // temperature, say) are not retried: each retry may cost a training run.
  std::vector<bool> cost_neutral(space.slots.size(), false);
  std::vector<std::string> notes;

  // 1. Compress: the move with the least quality lost per unit of budget excess removed.
  //    A knob's move is its nearest value that changes the excess: a step that changes
  //    nothing is retried 2, 4, 8... steps out, so a cost that only drops past a threshold
  //    (sparsity before the sparse layout pays off) is still found.
  while (!budgets_hold(*here) && !log.exhausted()) {
    std::optional<Configuration> best_config;
    const TrialResult* best = nullptr;
    double best_score = 0, best_gain = 0;
    for (size_t slot = 0; slot < space.slots.size(); ++slot) {
      if (cost_neutral[slot]) continue;
      const size_t last = space.slots[slot].values.size() - 1;
      bool flat_to_the_ends = true;
      for (int step : {+1, -1}) {
        if (direction[slot] != 0 && step != direction[slot]) continue;
        if ((step < 0 && current[slot] == 0) || (step > 0 && current[slot] == last)) continue;
        const TrialResult* trial = nullptr;
        Configuration candidate = current;
        double gain = 0;
        for (size_t stride = 1;; stride *= 2) {
          const size_t room = step > 0 ? last - current[slot] : current[slot];
          candidate[slot] = step > 0 ? current[slot] + std::min(stride, room) : current[slot] - std::min(stride, room);
          auto measured = log.measure(candidate);
          if (!measured) return measured.error();
          trial = *measured;
          if (trial == nullptr) break;
          gain = TrialLog::budget_excess(*here) - TrialLog::budget_excess(*trial);
          if (gain != 0 || stride >= room) break;
        }
        if (trial == nullptr || gain != 0) flat_to_the_ends = false;
        if (trial == nullptr || gain <= 0) continue;
        direction[slot] = step;
        // Quality lost per excess removed; breaking a requirement costs more than any loss.
        double lost = log.quality(*here) - log.quality(*trial);
        double score = (std::max(lost, 0.0) + (requirements_hold(*trial) ? 0.0 : 1e6)) / gain;
        if (!best || score < best_score || (score == best_score && gain > best_gain)) {
          best = trial;
          best_config = candidate;
          best_score = score;
          best_gain = gain;
        }
      }
      if (flat_to_the_ends && direction[slot] == 0) cost_neutral[slot] = true;
    }
    if (!best) {
      notes.push_back("greedy: no move reduces the budget excess any further");
      break;
    }
    current = *best_config;
    here = best;
  }

  // 2. Relax: step knobs back toward their defaults while the result stays feasible and
  //    does not get worse.
  bool relaxed = budgets_hold(*here);
  while (relaxed && !log.exhausted()) {
    relaxed = false;
    for (size_t slot = 0; slot < space.slots.size() && !log.exhausted(); ++slot) {
      if (current[slot] == space.slots[slot].default_index) continue;
      Configuration candidate = current;
      candidate[slot] += current[slot] > space.slots[slot].default_index ? -1 : +1;
      auto trial = log.measure(candidate);
      if (!trial) return trial.error();
      if (*trial == nullptr || !(*trial)->feasible || log.better(*here, **trial)) continue;
      current = candidate;
      here = *trial;
      relaxed = true;
    }
  }
  if (log.exhausted()) notes.push_back("greedy stopped at its trial or time limit");
  return log.finish(std::move(notes));
}

Expected<SearchOutcome> bisect_search(TrialEvaluator& evaluator, const KnobSpace& space, size_t slot,
                                      const SearchLimits& limits, bool maximize) {
  TrialLog log(evaluator, limits, maximize);
  Configuration config = space.defaults();
  // The budgets are assumed to fail at the default end and hold at the other; find the
  // first value from the default on where they hold.
  size_t from = space.slots[slot].default_index;
  size_t to = from == 0 ? space.slots[slot].values.size() - 1 : 0;
  auto holds_at = [&](size_t index) -> Expected<std::optional<bool>> {
    config[slot] = index;
    auto trial = log.measure(config);
    if (!trial) return trial.error();
    if (*trial == nullptr) return std::optional<bool>();
    return std::optional<bool>(budgets_hold(**trial));
  };
  auto at_far_end = holds_at(to);
  if (!at_far_end) return at_far_end.error();
  if (!at_far_end->value_or(false)) return log.finish({"bisect: the budgets fail even at the far end of the knob"});
  size_t good = to, bad = from;  // indices; the answer lies in (bad, good]
  auto at_default = holds_at(from);
  if (!at_default) return at_default.error();
  if (at_default->value_or(false)) return log.finish();
  while ((good > bad ? good - bad : bad - good) > 1) {
    size_t mid = (good + bad) / 2;
    auto holds = holds_at(mid);
    if (!holds) return holds.error();
    if (!holds->has_value()) break;
    (**holds ? good : bad) = mid;
  }
  // The answer is the boundary, not whichever feasible trial the objective prefers: without
  // an objective every feasible trial ties, and the far end was measured first.
  SearchOutcome outcome = log.finish();
  for (size_t i = 0; i < outcome.trials.size(); ++i)
    if (outcome.trials[i].config[slot] == good && outcome.trials[i].feasible) outcome.chosen = i;
  return outcome;
}

std::optional<double> pareto_cost(const TrialResult& trial) {
  for (const auto& c : trial.constraints)
    if (c.decl->kind == ast::DeclKind::Budget) return c.lhs;
  return std::nullopt;
}

Expected<SearchOutcome> pareto_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                      bool maximize) {
  auto outcome = grid_search(evaluator, space, limits, maximize);
  if (!outcome) return outcome;
  // Cost is the measured side of the first budget; a trial is on the frontier when no
  // cheaper-or-equal trial has a better objective.
  std::vector<size_t> order;
  for (size_t i = 0; i < outcome->trials.size(); ++i)
    if (pareto_cost(outcome->trials[i]) && outcome->trials[i].objective) order.push_back(i);
  auto cost = [&](size_t i) { return *pareto_cost(outcome->trials[i]); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost(a) < cost(b); });
  double best = -std::numeric_limits<double>::infinity();
  for (size_t i : order) {
    double quality = maximize ? *outcome->trials[i].objective : -*outcome->trials[i].objective;
    if (quality > best) {
      outcome->frontier.push_back(i);
      best = quality;
    }
  }
  return outcome;
}

}  // namespace kmr::engine
