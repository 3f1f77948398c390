// Verifies kernels by rebuilding each node with its factory and comparing the result.
#include "compiler/kir/verifier.h"

#include <set>

#include <fmt/format.h>

#include "compiler/kir/printer.h"

namespace kmr::kir {
namespace {

Expected<NodeRef> rebuild(const Node& node) {
  switch (node.kind) {
    case NodeKind::Const: return make_const(node.value, node.type);
    case NodeKind::Param: return make_param(node.param, node.name);
    case NodeKind::Input: return make_input();
    case NodeKind::Unary: return make_unary(static_cast<UnaryOp>(node.op), node.operands.at(0));
    case NodeKind::Binary: return make_binary(static_cast<BinaryOp>(node.op), node.operands.at(0), node.operands.at(1));
    case NodeKind::Select: return make_select(node.operands.at(0), node.operands.at(1), node.operands.at(2));
    case NodeKind::Reduce: return make_reduce(static_cast<ReduceOp>(node.op), node.operands.at(0), node.grouping);
    case NodeKind::Quantile: return make_quantile(node.operands.at(0), node.operands.at(1), node.grouping);
    case NodeKind::RankCmp:
      return make_rank_cmp(static_cast<BinaryOp>(node.op), node.operands.at(0), node.operands.at(1));
  }
  return Error{"unknown node kind"};
}

size_t arity(NodeKind kind) {
  switch (kind) {
    case NodeKind::Const: case NodeKind::Param: case NodeKind::Input: return 0;
    case NodeKind::Unary: case NodeKind::Reduce: return 1;
    case NodeKind::Binary: case NodeKind::Quantile: case NodeKind::RankCmp: return 2;
    case NodeKind::Select: return 3;
  }
  return 0;
}

bool is_number(const NodeRef& node) { return node && node->type != ScalarType::Bool; }

}  // namespace

Status verify(const Kernel& kernel) {
  auto ids = number_nodes(kernel);
  auto fail = [&](const Node* node, const std::string& what) {
    return Status(Error{fmt::format("kernel '{}' fails verification{}: {}", kernel.name,
                                    node ? fmt::format(" at %{}", ids.at(node)) : "", what)});
  };
  for (const Node* node : topological_order(kernel.roots())) {
    if (node->operands.size() != arity(node->kind)) return fail(node, "wrong number of operands");
    for (const auto& operand : node->operands)
      if (!operand) return fail(node, "null operand");
    auto again = rebuild(*node);
    if (!again) return fail(node, again.error().message);
    const Node& fresh = **again;
    if (fresh.type != node->type || !same_level(fresh.level, node->level) || fresh.hash != node->hash)
      return fail(node, "type, level or hash differs from what its factory builds");
    if (node->kind == NodeKind::Param) {
      if (static_cast<size_t>(node->param) >= kernel.params.size()) return fail(node, "parameter index out of range");
      if (kernel.params[node->param].name != node->name) return fail(node, "parameter name differs from the kernel's");
    }
  }
  if (kernel.result == ResultKind::Tensor) {
    if (!is_number(kernel.value)) return fail(nullptr, "a tensor result needs a number value");
    if (kernel.q || kernel.scale || kernel.zero || kernel.bits) return fail(nullptr, "a tensor result has no quantized parts");
  } else {
    if (kernel.value) return fail(nullptr, "a quantized result has no plain value");
    if (!is_number(kernel.q) || !is_number(kernel.scale) || !is_number(kernel.bits))
      return fail(nullptr, "quantized(q, scale, bits) needs numbers");
    if (kernel.scale->is_element())
      return fail(kernel.scale.get(), "a scale must be constant over each group, row or the tensor");
    if (!kernel.bits->is_uniform()) return fail(kernel.bits.get(), "bits must be uniform");
    if (kernel.zero) {
      if (!is_number(kernel.zero)) return fail(kernel.zero.get(), "a zero point is a number");
      if (!same_level(kernel.zero->level, kernel.scale->level) && !finer(kernel.scale->level, kernel.zero->level))
        return fail(kernel.zero.get(), "a zero point cannot vary more finely than the scale");
    }
  }
  std::set<std::string> names;
  for (const auto& measure : kernel.measures) {
    if (!is_number(measure.value) || !measure.value->is_uniform())
      return fail(measure.value.get(), fmt::format("measure '{}' must be a uniform number", measure.name));
    if (!names.insert(measure.name).second) return fail(nullptr, fmt::format("measure '{}' appears twice", measure.name));
  }
  return Status::success();
}

}  // namespace kmr::kir
