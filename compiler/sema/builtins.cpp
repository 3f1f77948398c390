// Signatures of the prelude; the runtime implements each under the same name.
#include "compiler/sema/builtins.h"

namespace kmr::sema {
namespace {

using K = BuiltinKind;
using T = Type;

const std::vector<Builtin>& prelude() {
  static const std::vector<Builtin> table = {
      {"load", K::Source, {{"path", T::String, true}, {"arch", T::Arch, false}}, T::Model},
      {"fashion_mnist", K::Source, {{"split", T::String, true}, {"limit", T::Int, false}, {"path", T::String, false}}, T::Data},
      {"idx", K::Source, {{"images", T::String, true}, {"labels", T::String, true}, {"limit", T::Int, false}}, T::Data},
      {"csv", K::Source, {{"path", T::String, true}, {"label", T::String, true}, {"limit", T::Int, false}}, T::Data},
      {"mlp", K::Arch, {{"act", T::Activation, false}}, T::Arch},
      {"encoded_size", K::Meter, {{"model", T::Model, true}}, T::Bytes},
      {"param_count", K::Meter, {{"model", T::Model, true}}, T::Int},
      {"nnz", K::Meter, {{"model", T::Model, true}}, T::Int},
      {"sparsity", K::Meter, {{"model", T::Model, true}}, T::Ratio},
      {"flops", K::Meter, {{"model", T::Model, true}}, T::Flops},
      {"rel_error", K::Meter, {{"model", T::Model, true}, {"reference", T::Model, true}}, T::Float},
      {"top1", K::Meter, {{"model", T::Model, true}, {"data", T::Data, true}}, T::Ratio},
      {"loss", K::Meter, {{"model", T::Model, true}, {"data", T::Data, true}}, T::Float},
      {"output_error", K::Meter, {{"model", T::Model, true}, {"reference", T::Model, true}, {"calib", T::Data, true}}, T::Float},
      {"agreement", K::Meter, {{"model", T::Model, true}, {"reference", T::Model, true}, {"data", T::Data, true}}, T::Ratio},
      {"match", K::Selection, {{"glob", T::String, true}}, T::Selection},
      // Element-wise kernel functions: Tensor results become plain numbers on scalars.
      {"abs", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"sqrt", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"exp", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"log", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"sign", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"round", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"floor", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"ceil", K::Elementwise, {{"x", T::Tensor, true}}, T::Tensor},
      {"min", K::Elementwise, {{"a", T::Tensor, true}, {"b", T::Tensor, true}}, T::Tensor},
      {"max", K::Elementwise, {{"a", T::Tensor, true}, {"b", T::Tensor, true}}, T::Tensor},
      {"clamp", K::Elementwise, {{"x", T::Tensor, true}, {"lo", T::Tensor, true}, {"hi", T::Tensor, true}}, T::Tensor},
      {"select", K::Elementwise, {{"condition", T::Tensor, true}, {"then", T::Tensor, true}, {"else", T::Tensor, true}}, T::Tensor},
      {"quantized", K::Elementwise, {{"q", T::Tensor, true}, {"scale", T::Tensor, true}, {"zero", T::Tensor, false}, {"bits", T::Int, true}}, T::QTensor},
      // Reductions: `over = all | row | group(g)`, all by default.
      {"sum", K::Reduction, {{"x", T::Tensor, true}, {"over", T::Grouping, false}}, T::Tensor},
      {"max", K::Reduction, {{"x", T::Tensor, true}, {"over", T::Grouping, false}}, T::Tensor},
      {"min", K::Reduction, {{"x", T::Tensor, true}, {"over", T::Grouping, false}}, T::Tensor},
      {"mean", K::Reduction, {{"x", T::Tensor, true}, {"over", T::Grouping, false}}, T::Tensor},
      {"count", K::Reduction, {{"x", T::Tensor, true}, {"over", T::Grouping, false}}, T::Tensor},
      {"quantile", K::Reduction, {{"x", T::Tensor, true}, {"q", T::Float, true}, {"over", T::Grouping, false}}, T::Tensor},
  };
  return table;
}

const std::vector<Builtin>& policies() {
  static const std::vector<Builtin> table = {
      {"greedy", K::Source, {{"max_trials", T::Int, false}, {"time_limit", T::Duration, false}}, T::Void},
      {"bisect", K::Source, {{"knob", T::Error, false}, {"max_trials", T::Int, false}, {"time_limit", T::Duration, false}}, T::Void},
      {"grid", K::Source, {{"max_trials", T::Int, false}, {"time_limit", T::Duration, false}}, T::Void},
      {"pareto", K::Source, {{"max_trials", T::Int, false}, {"time_limit", T::Duration, false}}, T::Void},
  };
  return table;
}

}  // namespace

namespace {

const Builtin* find_in(const std::vector<Builtin>& table, std::string_view name,
                       std::initializer_list<BuiltinKind> kinds) {
  for (const auto& builtin : table)
    for (BuiltinKind kind : kinds)
      if (builtin.name == name && builtin.kind == kind) return &builtin;
  return nullptr;
}

}  // namespace

const Builtin* find_builtin(std::string_view name, std::initializer_list<BuiltinKind> kinds) {
  return find_in(prelude(), name, kinds);
}

const Builtin* find_builtin(std::string_view name, std::initializer_list<BuiltinKind> kinds,
                            const std::vector<Builtin>& host) {
  const Builtin* builtin = find_in(prelude(), name, kinds);
  return builtin ? builtin : find_in(host, name, kinds);
}

const Builtin* find_builtin_policy(std::string_view name) {
  for (const auto& policy : policies())
    if (policy.name == name) return &policy;
  return nullptr;
}

std::string builtin_policy_names() {
  std::string out;
  for (const auto& policy : policies()) out += (out.empty() ? "" : ", ") + policy.name;
  return out;
}

bool is_activation(std::string_view name) { return name == "relu" || name == "gelu" || name == "tanh"; }

}  // namespace kmr::sema
