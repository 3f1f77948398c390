// The memoised, budgeted log of trials every search strategy shares.
#include <cmath>
#include <iterator>

#include "runtime/engine/search.h"

namespace kmr::engine {

TrialLog::TrialLog(TrialEvaluator& evaluator, const SearchLimits& limits, bool maximize)
    : evaluator_(evaluator), limits_(limits), maximize_(maximize), start_(std::chrono::steady_clock::now()) {}

bool TrialLog::exhausted() const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return trials_.size() >= limits_.max_trials || elapsed >= limits_.time_limit_seconds;
}

Expected<const TrialResult*> TrialLog::measure(const Configuration& config) {
  if (auto it = index_.find(config); it != index_.end()) return &trials_[it->second];
  if (exhausted()) return static_cast<const TrialResult*>(nullptr);
  auto trial = evaluator_.evaluate(config);
  if (!trial) return trial.error();
  index_.emplace(config, trials_.size());
  trials_.push_back(std::move(*trial));
  if (!best_ || better(trials_.back(), trials_[*best_])) best_ = trials_.size() - 1;
  if (limits_.on_trial) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    limits_.on_trial(SearchProgress{trials_.size(), limits_.max_trials, elapsed, &trials_[*best_]});
  }
  return &trials_.back();
}

double TrialLog::budget_excess(const TrialResult& trial) {
  double excess = 0;
  for (const auto& constraint : trial.constraints) {
    if (constraint.holds || constraint.decl->kind != ast::DeclKind::Budget) continue;
    double scale = std::max(std::fabs(constraint.rhs), 1e-12);
    excess += std::fabs(constraint.lhs - constraint.rhs) / scale;
  }
  return excess;
}

double TrialLog::quality(const TrialResult& trial) const {
  if (!trial.objective) return 0;
  return maximize_ ? *trial.objective : -*trial.objective;
}

bool TrialLog::better(const TrialResult& a, const TrialResult& b) const {
  if (a.feasible != b.feasible) return a.feasible;
  if (quality(a) != quality(b)) return quality(a) > quality(b);
  return budget_excess(a) < budget_excess(b);
}

SearchOutcome TrialLog::finish(std::vector<std::string> notes) {
  SearchOutcome outcome;
  for (size_t i = 0; i < trials_.size(); ++i)
    if (trials_[i].feasible && (!outcome.chosen || better(trials_[i], trials_[*outcome.chosen]))) outcome.chosen = i;
  outcome.notes = std::move(notes);
  outcome.trials.assign(std::make_move_iterator(trials_.begin()), std::make_move_iterator(trials_.end()));
  trials_.clear();
  index_.clear();
  best_.reset();
  return outcome;
}

}  // namespace kmr::engine
