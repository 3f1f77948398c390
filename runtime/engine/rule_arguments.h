// The arguments of a native rule for one configuration: `lowrank(rank)` or
// `distill(teacher, hidden = [width * 2, width], ...)` with the knobs' current values.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "support/expected.h"

namespace kmr::engine {

/// One bound argument: a number, a list of numbers, or the name of a model or data set.
struct RuleArgument {
  std::string param;  // the kernel parameter it binds
  double number = 0;
  std::vector<double> list;
  std::string name;  // a model or data set named by the argument
  bool is_list = false;
};

/// Looks a knob up for the tensor (or model) a rule is applied to; nullopt for a name that
/// is not a knob.
using KnobLookup = std::function<std::optional<double>(const std::string& name)>;

/// Binds `call`'s arguments to `kernel`'s parameters after the first (which receives the
/// tensor or model), by position then by name, and fills in the defaults. Numbers come
/// from literals, knobs and arithmetic on them; names that are not knobs are passed as
/// names. Fails, naming the parameter, for a value it cannot compute or a missing argument.
Expected<std::vector<RuleArgument>> bind_rule_arguments(const ast::CallExpr& call, const ast::KernelDecl& kernel,
                                                        const KnobLookup& knob);

/// The argument bound to `param`, or null.
const RuleArgument* find_argument(const std::vector<RuleArgument>& args, const std::string& param);

/// The arguments as one cache key: equal keys mean equal arguments.
std::vector<double> argument_key(const std::vector<RuleArgument>& args);

}  // namespace kmr::engine
