// Policies: the search strategies that choose a configuration (grid, greedy Budgeted-KMR,
// bisect, pareto, and scripted policies), sharing one memoised trial log and its limits.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine/trial_evaluator.h"

namespace kmr::engine {

/// Where a search stands, after each trial it measures.
struct SearchProgress {
  size_t trials = 0;       // measured so far
  size_t max_trials = 0;   // the policy's cap
  double elapsed_seconds = 0;
  const TrialResult* best = nullptr;  // the best trial so far (TrialLog::better)
};

struct SearchLimits {
  size_t max_trials = 200;
  double time_limit_seconds = std::numeric_limits<double>::infinity();
  size_t fuel = 1000000;  // statements a scripted policy may execute
  /// Bytes a scripted policy may hold: its variables and lists, and the trials it has
  /// measured (what grows as it runs).
  size_t policy_memory_bytes = size_t{64} << 20;
  /// Called after each new trial (a progress line); may be empty.
  std::function<void(const SearchProgress&)> on_trial;
};

struct SearchOutcome {
  std::vector<TrialResult> trials;  // in the order they were measured
  std::optional<size_t> chosen;     // the configuration to save (a feasible trial)
  std::vector<size_t> frontier;     // pareto: cost-ascending, objective-improving trials
  std::vector<std::string> notes;   // e.g. "grid capped at 200 of 1140 configurations"
};

/// The trial log of one search: each configuration is measured once, and the search stops
/// asking when its trial or time budget is spent.
class TrialLog {
 public:
  TrialLog(TrialEvaluator& evaluator, const SearchLimits& limits, bool maximize);

  /// The trial of `config`, measured now or earlier; nullptr when the budget is spent and
  /// it was not measured before.
  Expected<const TrialResult*> measure(const Configuration& config);
  bool exhausted() const;

  /// Whether `a` is better than `b`: feasible beats infeasible; then the objective; then
  /// the smaller total budget excess; then the earlier trial.
  bool better(const TrialResult& a, const TrialResult& b) const;
  /// How far a trial's budgets are exceeded: the sum of relative excesses (0 when they hold).
  static double budget_excess(const TrialResult& trial);
  /// Quality in the direction the objective prefers (larger is better); 0 without one.
  double quality(const TrialResult& trial) const;

  SearchOutcome finish(std::vector<std::string> notes = {});
  const std::deque<TrialResult>& trials() const { return trials_; }

 private:
  TrialEvaluator& evaluator_;
  SearchLimits limits_;
  bool maximize_;
  std::chrono::steady_clock::time_point start_;
  std::deque<TrialResult> trials_;  // a deque: measure() hands out pointers that must stay valid
  std::map<Configuration, size_t> index_;
  std::optional<size_t> best_;
};

/// Every configuration in order (the last slot fastest), capped by max_trials.
Expected<SearchOutcome> grid_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                    bool maximize);

/// Budgeted-KMR: from the defaults (the least-compressing setting), repeatedly take the
/// one-step knob move (per tensor for families) with the least quality lost per budget
/// excess removed, until every budget holds; then undo moves that are no longer needed.
Expected<SearchOutcome> greedy_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                      bool maximize);

/// Binary search over the values of one knob (`slot`, assumed monotone in cost) for the
/// least-compressing value whose budgets hold, other knobs at their defaults.
Expected<SearchOutcome> bisect_search(TrialEvaluator& evaluator, const KnobSpace& space, size_t slot,
                                      const SearchLimits& limits, bool maximize);

/// The cost pareto trades against the objective: the measured side of the trial's first
/// budget; nullopt without a budget.
std::optional<double> pareto_cost(const TrialResult& trial);

/// A grid sweep that also reports the frontier of cost (pareto_cost) against the objective.
Expected<SearchOutcome> pareto_search(TrialEvaluator& evaluator, const KnobSpace& space, const SearchLimits& limits,
                                      bool maximize);

}  // namespace kmr::engine
