// The prelude: functions always in scope (sources, meters, selections) and the functions a
// kernel body may call, each with its signature for the checker.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/sema/types.h"

namespace kmr::sema {

enum class BuiltinKind {
  Source,      // load, fashion_mnist, idx, csv: produce models and data
  Arch,        // mlp(act = ...)
  Meter,       // encoded_size, top1, ...: measure a model
  Selection,   // match("glob"): tensors of the model flowing into a rule
  Elementwise, // kernel bodies: abs, min, clamp, select, quantized, ...
  Reduction,   // kernel bodies: sum, max, min, mean, count, quantile with `over =`
};

struct BuiltinParam {
  std::string name;
  Type type;
  bool required;
};

struct Builtin {
  std::string name;
  BuiltinKind kind;
  std::vector<BuiltinParam> params;
  Type result;  // Tensor for element-wise functions means "tensor if any operand is"
};

/// The prelude function named `name` of one of `kinds`, or null.
const Builtin* find_builtin(std::string_view name, std::initializer_list<BuiltinKind> kinds);
/// As above, then among `host` (an embedding application's functions) when the prelude
/// has none: the prelude's names cannot be redefined.
const Builtin* find_builtin(std::string_view name, std::initializer_list<BuiltinKind> kinds,
                            const std::vector<Builtin>& host);

/// Built-in policies and their named arguments.
const Builtin* find_builtin_policy(std::string_view name);
std::string builtin_policy_names();

/// Activation names accepted by `mlp(act = ...)`.
bool is_activation(std::string_view name);

}  // namespace kmr::sema
