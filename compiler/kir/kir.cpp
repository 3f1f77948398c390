// The KIR factories: typing and level rules, structural hashing and equality.
#include "compiler/kir/kir.h"

#include <cstring>
#include <unordered_set>

#include <fmt/format.h>

namespace kmr::kir {
namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64-style mixing: cheap and good enough to key caches (collisions are checked
  // by structural comparison where it matters).
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 29);
}

// FNV-1a: stable across runs and builds, unlike std::hash, so on-disk cache keys hold.
uint64_t text_hash(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

uint64_t double_bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

void finish(Node& node) {
  uint64_t h = mix(static_cast<uint64_t>(node.kind) + 1, static_cast<uint64_t>(node.op));
  h = mix(h, static_cast<uint64_t>(node.type));
  h = mix(h, double_bits(node.value));
  h = mix(h, static_cast<uint64_t>(node.param + 1));
  h = mix(h, static_cast<uint64_t>(node.grouping.kind));
  if (node.grouping.size) h = mix(h, node.grouping.size->hash);
  for (const auto& operand : node.operands) h = mix(h, operand->hash);
  node.hash = h;
}

ScalarType numeric_type(const Level& level) {
  return level.kind == Level::Kind::Element ? ScalarType::F32 : ScalarType::F64;
}

bool is_number(const Node& node) { return node.type != ScalarType::Bool; }

Level join(const Level& a, const Level& b) {
  if (a.kind == Level::Kind::Element || b.kind == Level::Kind::Element) return {Level::Kind::Element, nullptr};
  if (a.kind == Level::Kind::Group && b.kind == Level::Kind::Group)
    return same_level(a, b) ? a : Level{Level::Kind::Element, nullptr};
  if (a.kind == Level::Kind::Group) return a;
  if (b.kind == Level::Kind::Group) return b;
  if (a.kind == Level::Kind::Row || b.kind == Level::Kind::Row) return {Level::Kind::Row, nullptr};
  return {};
}

Error fail(const std::string& what) { return Error{"KIR: " + what}; }

Status check_grouping(const Grouping& grouping) {
  if (grouping.kind == Grouping::Kind::Group) {
    if (!grouping.size) return fail("group(g) needs a size");
    if (!grouping.size->is_uniform() || !is_number(*grouping.size))
      return fail("a group size must be a uniform number (a parameter or constant)");
    // Group sizes are known before any pass over the tensor, so they cannot depend on it.
    for (const Node* node : topological_order({grouping.size.get()}))
      if (node->kind == NodeKind::Reduce || node->kind == NodeKind::Quantile)
        return fail("a group size is computed from parameters and constants, not from a reduction");
  }
  return Status::success();
}

Level domain_of(const Node& x, const Grouping& grouping) {
  Level target = level_of(grouping);
  return finer(x.level, target) ? x.level : Level{Level::Kind::Element, nullptr};
}

}  // namespace

const char* node_kind_text(NodeKind kind) {
  switch (kind) {
#define KIR_NODE(k, text) case NodeKind::k: return text;
#include "compiler/kir/nodes.def"
#undef KIR_NODE
  }
  return "?";
}

const char* unary_op_text(UnaryOp op) {
  switch (op) {
#define KIR_UNARY(o, text, takes_bool) case UnaryOp::o: return text;
#include "compiler/kir/nodes.def"
#undef KIR_UNARY
  }
  return "?";
}

const char* binary_op_text(BinaryOp op) {
  switch (op) {
#define KIR_BINARY(o, text, kind) case BinaryOp::o: return text;
#include "compiler/kir/nodes.def"
#undef KIR_BINARY
  }
  return "?";
}

const char* reduce_op_text(ReduceOp op) {
  switch (op) {
#define KIR_REDUCE(o, text) case ReduceOp::o: return text;
#include "compiler/kir/nodes.def"
#undef KIR_REDUCE
  }
  return "?";
}

bool is_comparison(BinaryOp op) {
  switch (op) {
#define KIR_BINARY(o, text, kind) case BinaryOp::o: return std::strcmp(#kind, "cmp") == 0;
#include "compiler/kir/nodes.def"
#undef KIR_BINARY
  }
  return false;
}

bool is_logic(BinaryOp op) { return op == BinaryOp::And || op == BinaryOp::Or; }

const char* scalar_type_text(ScalarType type) {
  switch (type) {
    case ScalarType::F32: return "f32";
    case ScalarType::F64: return "f64";
    case ScalarType::Bool: return "bool";
  }
  return "?";
}

bool same_level(const Level& a, const Level& b) {
  if (a.kind != b.kind) return false;
  if (a.kind != Level::Kind::Group) return true;
  return a.size == b.size || (a.size && b.size && same_node(*a.size, *b.size));
}

bool finer(const Level& a, const Level& b) {
  if (a.kind == Level::Kind::Group && b.kind == Level::Kind::Group) return false;
  return static_cast<int>(a.kind) < static_cast<int>(b.kind);
}

std::string level_text(const Level& level) {
  switch (level.kind) {
    case Level::Kind::Element: return "element";
    case Level::Kind::Group: return "group";
    case Level::Kind::Row: return "row";
    case Level::Kind::Uniform: return "uniform";
  }
  return "?";
}

Level level_of(const Grouping& grouping) {
  switch (grouping.kind) {
    case Grouping::Kind::All: return {Level::Kind::Uniform, nullptr};
    case Grouping::Kind::Row: return {Level::Kind::Row, nullptr};
    case Grouping::Kind::Group: return {Level::Kind::Group, grouping.size};
  }
  return {};
}

std::string grouping_text(const Grouping& grouping, const std::string& size_text) {
  switch (grouping.kind) {
    case Grouping::Kind::All: return "all";
    case Grouping::Kind::Row: return "row";
    case Grouping::Kind::Group: return fmt::format("group({})", size_text);
  }
  return "?";
}

bool same_node(const Node& a, const Node& b) {
  if (&a == &b) return true;
  if (a.hash != b.hash || a.kind != b.kind || a.op != b.op || a.type != b.type || a.param != b.param ||
      double_bits(a.value) != double_bits(b.value) || a.grouping.kind != b.grouping.kind ||
      a.operands.size() != b.operands.size())
    return false;
  if ((a.grouping.size == nullptr) != (b.grouping.size == nullptr)) return false;
  if (a.grouping.size && !same_node(*a.grouping.size, *b.grouping.size)) return false;
  for (size_t i = 0; i < a.operands.size(); ++i)
    if (!same_node(*a.operands[i], *b.operands[i])) return false;
  return true;
}

NodeRef make_const(double value, ScalarType type) {
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Const;
  node->type = type == ScalarType::Bool ? ScalarType::Bool : ScalarType::F64;
  node->value = type == ScalarType::Bool ? (value != 0 ? 1.0 : 0.0) : value;
  finish(*node);
  return node;
}

Expected<NodeRef> make_param(int index, std::string name) {
  if (index < 0) return fail("a parameter index cannot be negative");
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Param;
  node->type = ScalarType::F64;
  node->param = index;
  node->name = std::move(name);
  finish(*node);
  return NodeRef(node);
}

NodeRef make_input() {
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Input;
  node->type = ScalarType::F32;
  node->level = {Level::Kind::Element, nullptr};
  finish(*node);
  return node;
}

Expected<NodeRef> make_unary(UnaryOp op, NodeRef a) {
  if (!a) return fail("missing operand");
  bool wants_bool = op == UnaryOp::Not;
  if (wants_bool != (a->type == ScalarType::Bool))
    return fail(fmt::format("{} takes {}", unary_op_text(op), wants_bool ? "a bool" : "a number"));
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Unary;
  node->op = static_cast<int>(op);
  node->level = a->level;
  node->type = wants_bool ? ScalarType::Bool : numeric_type(node->level);
  node->operands = {std::move(a)};
  finish(*node);
  return NodeRef(node);
}

Expected<NodeRef> make_binary(BinaryOp op, NodeRef a, NodeRef b) {
  if (!a || !b) return fail("missing operand");
  bool logic = is_logic(op);
  if (logic != (a->type == ScalarType::Bool) || logic != (b->type == ScalarType::Bool))
    return fail(fmt::format("{} takes {}", binary_op_text(op), logic ? "bools" : "numbers"));
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Binary;
  node->op = static_cast<int>(op);
  node->level = join(a->level, b->level);
  node->type = logic || is_comparison(op) ? ScalarType::Bool : numeric_type(node->level);
  node->operands = {std::move(a), std::move(b)};
  finish(*node);
  return NodeRef(node);
}

Expected<NodeRef> make_select(NodeRef cond, NodeRef a, NodeRef b) {
  if (!cond || !a || !b) return fail("missing operand");
  if (cond->type != ScalarType::Bool) return fail("select's condition must be a bool");
  if ((a->type == ScalarType::Bool) != (b->type == ScalarType::Bool))
    return fail("select's branches must both be numbers or both bools");
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Select;
  node->level = join(cond->level, join(a->level, b->level));
  node->type = a->type == ScalarType::Bool ? ScalarType::Bool : numeric_type(node->level);
  node->operands = {std::move(cond), std::move(a), std::move(b)};
  finish(*node);
  return NodeRef(node);
}

Expected<NodeRef> make_reduce(ReduceOp op, NodeRef x, Grouping grouping) {
  if (!x) return fail("missing operand");
  if (auto status = check_grouping(grouping); !status) return status.error();
  if (x->type == ScalarType::Bool && op != ReduceOp::Count) return fail(fmt::format("{} takes a number", reduce_op_text(op)));
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Reduce;
  node->op = static_cast<int>(op);
  node->domain = domain_of(*x, grouping);
  node->level = level_of(grouping);
  node->type = ScalarType::F64;
  node->grouping = std::move(grouping);
  node->operands = {std::move(x)};
  finish(*node);
  return NodeRef(node);
}

Expected<NodeRef> make_quantile(NodeRef x, NodeRef q, Grouping grouping) {
  if (!x || !q) return fail("missing operand");
  if (auto status = check_grouping(grouping); !status) return status.error();
  if (x->type == ScalarType::Bool) return fail("quantile takes a number");
  if (!q->is_uniform() || q->type == ScalarType::Bool) return fail("a quantile's q must be a uniform number");
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::Quantile;
  node->domain = domain_of(*x, grouping);
  node->level = level_of(grouping);
  node->type = ScalarType::F64;
  node->grouping = std::move(grouping);
  node->operands = {std::move(x), std::move(q)};
  finish(*node);
  return NodeRef(node);
}

Expected<NodeRef> make_rank_cmp(BinaryOp op, NodeRef x, NodeRef quantile) {
  if (!x || !quantile) return fail("missing operand");
  if (!is_comparison(op)) return fail("rank_cmp takes a comparison");
  if (quantile->kind != NodeKind::Quantile) return fail("rank_cmp compares with a quantile");
  if (!same_node(*x, quantile->operand(0))) return fail("rank_cmp compares a value with a quantile of that same value");
  auto node = std::make_shared<Node>();
  node->kind = NodeKind::RankCmp;
  node->op = static_cast<int>(op);
  node->level = quantile->domain;
  node->type = ScalarType::Bool;
  node->operands = {std::move(x), std::move(quantile)};
  finish(*node);
  return NodeRef(node);
}

std::vector<const Node*> Kernel::roots() const {
  std::vector<const Node*> out;
  for (const auto& root : {value, q, scale, zero, bits})
    if (root) out.push_back(root.get());
  for (const auto& measure : measures)
    if (measure.value) out.push_back(measure.value.get());
  return out;
}

std::vector<const Node*> topological_order(const std::vector<const Node*>& roots) {
  std::vector<const Node*> order;
  std::unordered_set<const Node*> seen;
  // Iterative post-order, so a deep chain cannot overflow the stack.
  std::vector<std::pair<const Node*, size_t>> stack;
  auto children = [](const Node* node) {
    std::vector<const Node*> out;
    for (const auto& operand : node->operands) out.push_back(operand.get());
    if (node->grouping.size) out.push_back(node->grouping.size.get());
    return out;
  };
  for (const Node* root : roots) {
    if (!seen.insert(root).second) continue;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      auto kids = children(node);
      if (next < kids.size()) {
        const Node* kid = kids[next++];
        if (seen.insert(kid).second) stack.push_back({kid, 0});
        continue;
      }
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

uint64_t structural_hash(const Kernel& kernel) {
  uint64_t h = mix(0x4b4d52, static_cast<uint64_t>(kernel.result));
  h = mix(h, kernel.params.size());
  for (const auto& root : {kernel.value, kernel.q, kernel.scale, kernel.zero, kernel.bits})
    h = mix(h, root ? root->hash : 0);
  for (const auto& measure : kernel.measures) {
    h = mix(h, text_hash(measure.name));
    h = mix(h, measure.value ? measure.value->hash : 0);
  }
  return h;
}

}  // namespace kmr::kir
