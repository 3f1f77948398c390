// CSE by interning rebuilt nodes by structural hash, and folding on the way up.
#include "compiler/passes/simplify.h"

#include <unordered_map>

#include "compiler/kir/semantics.h"

namespace kmr::passes {
namespace {

using kir::NodeKind;
using kir::NodeRef;

bool is_const(const NodeRef& node, double value) {
  return node->kind == NodeKind::Const && node->type != kir::ScalarType::Bool && node->value == value;
}

class Simplifier {
 public:
  NodeRef get(const NodeRef& node) {
    if (!node) return nullptr;
    if (auto it = done_.find(node.get()); it != done_.end()) return it->second;
    NodeRef result = intern(fold(rebuild(*node)));
    done_.emplace(node.get(), result);
    return result;
  }

 private:
  // The node with simplified operands (factories cannot fail on operands of a verified node).
  NodeRef rebuild(const kir::Node& node) {
    std::vector<NodeRef> ops;
    for (const auto& operand : node.operands) ops.push_back(get(operand));
    kir::Grouping grouping = node.grouping;
    grouping.size = get(grouping.size);
    Expected<NodeRef> made = Error{""};
    switch (node.kind) {
      case NodeKind::Const: return kir::make_const(node.value, node.type);
      case NodeKind::Param: made = kir::make_param(node.param, node.name); break;
      case NodeKind::Input: return kir::make_input();
      case NodeKind::Unary: made = kir::make_unary(static_cast<kir::UnaryOp>(node.op), ops[0]); break;
      case NodeKind::Binary: made = kir::make_binary(static_cast<kir::BinaryOp>(node.op), ops[0], ops[1]); break;
      case NodeKind::Select: made = kir::make_select(ops[0], ops[1], ops[2]); break;
      case NodeKind::Reduce: made = kir::make_reduce(static_cast<kir::ReduceOp>(node.op), ops[0], grouping); break;
      case NodeKind::Quantile: made = kir::make_quantile(ops[0], ops[1], grouping); break;
      case NodeKind::RankCmp: made = kir::make_rank_cmp(static_cast<kir::BinaryOp>(node.op), ops[0], ops[1]); break;
    }
    return made ? std::move(made).value() : nullptr;
  }

  NodeRef fold(NodeRef node) {
    if (!node) return node;
    const auto& ops = node->operands;
    auto all_const = [&] {
      for (const auto& op : ops)
        if (op->kind != NodeKind::Const) return false;
      return !ops.empty();
    };
    kir::ScalarType result_type = node->type == kir::ScalarType::Bool ? kir::ScalarType::Bool : kir::ScalarType::F64;
    switch (node->kind) {
      case NodeKind::Unary:
        if (all_const()) return kir::make_const(kir::sem::unary(static_cast<kir::UnaryOp>(node->op), ops[0]->value), result_type);
        break;
      case NodeKind::Binary: {
        auto op = static_cast<kir::BinaryOp>(node->op);
        if (all_const()) return kir::make_const(kir::sem::binary(op, ops[0]->value, ops[1]->value), result_type);
        // Identities that hold bit for bit, -0 and NaN included, when the result keeps x's type.
        const NodeRef& x = ops[0];
        bool same_type = x->type == node->type;
        if (same_type && ((op == kir::BinaryOp::Mul && is_const(ops[1], 1)) || (op == kir::BinaryOp::Div && is_const(ops[1], 1)) ||
                          (op == kir::BinaryOp::Sub && is_const(ops[1], 0)) || (op == kir::BinaryOp::Pow && is_const(ops[1], 1))))
          return x;
        if (op == kir::BinaryOp::Pow && is_const(ops[1], 2)) {
          auto square = kir::make_binary(kir::BinaryOp::Mul, x, x);
          if (square) return std::move(square).value();
        }
        break;
      }
      case NodeKind::Select:
        if (ops[0]->kind == NodeKind::Const && ops[1]->type == node->type && ops[2]->type == node->type)
          return ops[0]->value != 0 ? ops[1] : ops[2];
        break;
      default: break;
    }
    return node;
  }

  NodeRef intern(NodeRef node) {
    if (!node) return node;
    auto& bucket = interned_[node->hash];
    for (const auto& candidate : bucket)
      if (kir::same_node(*candidate, *node)) return candidate;
    bucket.push_back(node);
    return node;
  }

  std::unordered_map<const kir::Node*, NodeRef> done_;
  std::unordered_map<uint64_t, std::vector<NodeRef>> interned_;
};

}  // namespace

kir::Kernel simplify(const kir::Kernel& kernel) {
  Simplifier s;
  kir::Kernel out = kernel;
  out.value = s.get(kernel.value);
  out.q = s.get(kernel.q);
  out.scale = s.get(kernel.scale);
  out.zero = s.get(kernel.zero);
  out.bits = s.get(kernel.bits);
  for (auto& measure : out.measures) measure.value = s.get(measure.value);
  return out;
}

}  // namespace kmr::passes
