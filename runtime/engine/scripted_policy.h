// Scripted policies: `policy name { ... }` run statement by statement over the trial log,
// under fuel and memory limits, changing knobs with `set` and `step` and reading meters with measure().
#pragma once

#include "compiler/ast/ast.h"
#include "runtime/engine/search.h"

namespace kmr::engine {

/// Runs `policy` from the default configuration. `accept` chooses the current
/// configuration (when it is feasible), `reject` ends with none; a policy that ends
/// without either chooses the best feasible trial it measured. Fails, naming the policy and
/// the statement, when it runs out of fuel (limits.fuel statements), holds more than
/// limits.policy_memory_bytes (its variables, lists and measured trials, as
/// policy_memory_use counts them), measures more than limits.max_trials configurations, or
/// sets a knob outside its domain.
Expected<SearchOutcome> run_scripted_policy(const ast::PolicyDecl& policy, TrialEvaluator& evaluator,
                                            const KnobSpace& space, const SearchLimits& limits, bool maximize);

}  // namespace kmr::engine
