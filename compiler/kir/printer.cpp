// Prints a kernel as numbered nodes in topological order: the X-macro lists name each op.
#include "compiler/kir/printer.h"

#include <fmt/format.h>

namespace kmr::kir {

std::unordered_map<const Node*, int> number_nodes(const Kernel& kernel) {
  std::unordered_map<const Node*, int> ids;
  for (const Node* node : topological_order(kernel.roots())) ids.emplace(node, static_cast<int>(ids.size()));
  return ids;
}

namespace {

std::string node_line(const Node& node, const std::unordered_map<const Node*, int>& ids) {
  auto ref = [&](const Node& n) { return fmt::format("%{}", ids.at(&n)); };
  std::string body;
  switch (node.kind) {
    case NodeKind::Const:
      body = node.type == ScalarType::Bool ? (node.value != 0 ? "const true" : "const false")
                                           : fmt::format("const {}", node.value);
      break;
    case NodeKind::Param: body = fmt::format("param {} #{}", node.name, node.param); break;
    case NodeKind::Input: body = "input"; break;
    case NodeKind::Unary: body = fmt::format("{} {}", unary_op_text(static_cast<UnaryOp>(node.op)), ref(node.operand(0))); break;
    case NodeKind::Binary:
      body = fmt::format("{} {}, {}", binary_op_text(static_cast<BinaryOp>(node.op)), ref(node.operand(0)),
                         ref(node.operand(1)));
      break;
    case NodeKind::Select:
      body = fmt::format("select {}, {}, {}", ref(node.operand(0)), ref(node.operand(1)), ref(node.operand(2)));
      break;
    case NodeKind::Reduce:
      body = fmt::format("reduce {} {} over {} by {}", reduce_op_text(static_cast<ReduceOp>(node.op)),
                         ref(node.operand(0)),
                         grouping_text(node.grouping, node.grouping.size ? ref(*node.grouping.size) : ""),
                         level_text(node.domain));
      break;
    case NodeKind::Quantile:
      body = fmt::format("quantile {}, q = {} over {} by {}", ref(node.operand(0)), ref(node.operand(1)),
                         grouping_text(node.grouping, node.grouping.size ? ref(*node.grouping.size) : ""),
                         level_text(node.domain));
      break;
    case NodeKind::RankCmp:
      body = fmt::format("rank_cmp {} {}, {}", binary_op_text(static_cast<BinaryOp>(node.op)), ref(node.operand(0)),
                         ref(node.operand(1)));
      break;
  }
  std::string level = level_text(node.level);
  if (node.level.kind == Level::Kind::Group && node.level.size) level += "(" + ref(*node.level.size) + ")";
  return fmt::format("  {} = {} : {} {}\n", ref(node), body, scalar_type_text(node.type), level);
}

}  // namespace

std::string print(const Kernel& kernel) {
  auto ids = number_nodes(kernel);
  std::string out = fmt::format("kernel {}(w: tensor", kernel.name);
  for (const auto& param : kernel.params) out += fmt::format(", {}: {} = {}", param.name, param.type, param.value);
  out += fmt::format(") -> {}\n", kernel.result == ResultKind::Tensor ? "tensor" : "qtensor");
  if (!kernel.source.empty()) out += fmt::format("  // from {}\n", kernel.source);
  for (const Node* node : topological_order(kernel.roots())) out += node_line(*node, ids);
  auto ref = [&](const NodeRef& n) { return n ? fmt::format("%{}", ids.at(n.get())) : std::string("none"); };
  if (kernel.result == ResultKind::Tensor)
    out += fmt::format("  yield {}\n", ref(kernel.value));
  else if (kernel.zero)
    out += fmt::format("  yield quantized(q = {}, scale = {}, zero = {}, bits = {})\n", ref(kernel.q), ref(kernel.scale),
                       ref(kernel.zero), ref(kernel.bits));
  else
    out += fmt::format("  yield quantized(q = {}, scale = {}, bits = {})\n", ref(kernel.q), ref(kernel.scale),
                       ref(kernel.bits));
  for (const auto& measure : kernel.measures) out += fmt::format("  measure {} = {}\n", measure.name, ref(measure.value));
  return out;
}

}  // namespace kmr::kir
