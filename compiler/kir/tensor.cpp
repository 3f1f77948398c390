// Run-time checks shared by the interpreter and the JIT: parameters, group sizes, bits.
#include "compiler/kir/tensor.h"

#include <cmath>

#include <fmt/format.h>

#include "compiler/kir/semantics.h"

namespace kmr::kir {

ParamValues default_params(const Kernel& kernel) {
  ParamValues values;
  for (const auto& param : kernel.params) values.push_back(param.value);
  return values;
}

Error run_error(const Kernel& kernel, const TensorView& input, const std::string& what) {
  return Error{fmt::format("kernel '{}' on tensor '{}': {}", kernel.name, input.name, what)};
}

double evaluate_static(const Node& node, const ParamValues& params) {
  switch (node.kind) {
    case NodeKind::Const: return node.value;
    case NodeKind::Param:
      return node.param >= 0 && static_cast<size_t>(node.param) < params.size() ? params[node.param] : NAN;
    case NodeKind::Unary: return sem::unary(static_cast<UnaryOp>(node.op), evaluate_static(node.operand(0), params));
    case NodeKind::Binary:
      return sem::binary(static_cast<BinaryOp>(node.op), evaluate_static(node.operand(0), params),
                         evaluate_static(node.operand(1), params));
    case NodeKind::Select:
      return evaluate_static(node.operand(0), params) != 0 ? evaluate_static(node.operand(1), params)
                                                           : evaluate_static(node.operand(2), params);
    default: return NAN;
  }
}

Expected<int64_t> effective_group_size(const Kernel& kernel, const Node& size, const ParamValues& params,
                                       const TensorView& input) {
  double g = evaluate_static(size, params);
  if (!(g >= 0) || g != std::floor(g) || g > 9.0e15)
    return run_error(kernel, input, fmt::format("group size {} is not a whole number >= 0", g));
  auto group = static_cast<int64_t>(g);
  if (group > input.cols && input.cols > 0)
    return run_error(kernel, input, fmt::format("group size {} is larger than the row ({} elements)", group, input.cols));
  return group == 0 ? input.cols : group;
}

Status check_params(const Kernel& kernel, const ParamValues& params, const TensorView& input) {
  if (params.size() != kernel.params.size())
    return run_error(kernel, input, fmt::format("{} parameter values given for {} parameters", params.size(),
                                                kernel.params.size()));
  for (size_t i = 0; i < params.size(); ++i)
    if (!sem::finite(params[i]))
      return run_error(kernel, input, fmt::format("parameter '{}' is {}", kernel.params[i].name, params[i]));
  // rows * cols must not overflow (positions are int64 flat indices).
  bool overflows = input.cols > 0 && input.rows > (int64_t{1} << 53) / input.cols;
  if (input.rows < 0 || input.cols < 0 || overflows || (input.size() > 0 && input.data == nullptr))
    return run_error(kernel, input, fmt::format("bad tensor view {} x {}", input.rows, input.cols));
  return Status::success();
}

Expected<int> checked_bits(const Kernel& kernel, double bits, const TensorView& input) {
  if (!(bits >= 2 && bits <= 8) || bits != std::floor(bits))
    return run_error(kernel, input, fmt::format("bits = {} is not a whole number in 2..8", bits));
  return static_cast<int>(bits);
}

}  // namespace kmr::kir
