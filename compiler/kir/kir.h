// The kernel IR: immutable expression DAGs over one tensor seen as rows x cols, built by
// validating make() factories, and the Kernel that yields a tensor or quantized codes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/expected.h"

namespace kmr::kir {

enum class NodeKind {
#define KIR_NODE(kind, text) kind,
#include "compiler/kir/nodes.def"
#undef KIR_NODE
};

enum class UnaryOp {
#define KIR_UNARY(op, text, takes_bool) op,
#include "compiler/kir/nodes.def"
#undef KIR_UNARY
};

enum class BinaryOp {
#define KIR_BINARY(op, text, kind) op,
#include "compiler/kir/nodes.def"
#undef KIR_BINARY
};

enum class ReduceOp {
#define KIR_REDUCE(op, text) op,
#include "compiler/kir/nodes.def"
#undef KIR_REDUCE
};

const char* node_kind_text(NodeKind kind);
const char* unary_op_text(UnaryOp op);
const char* binary_op_text(BinaryOp op);
const char* reduce_op_text(ReduceOp op);
bool is_comparison(BinaryOp op);
bool is_logic(BinaryOp op);

/// Values that vary per element are f32 (the weights' precision); every coarser value
/// (parameters, constants, reductions and what is computed from them) is f64.
enum class ScalarType { F32, F64, Bool };
const char* scalar_type_text(ScalarType type);

struct Node;
using NodeRef = std::shared_ptr<const Node>;

/// How finely a value varies over the tensor. Ordered from finest to coarsest:
/// Element < Group(g) < Row < Uniform. `size` is the group size (a uniform node) for Group.
struct Level {
  enum class Kind { Element, Group, Row, Uniform } kind = Kind::Uniform;
  NodeRef size;
};
bool same_level(const Level& a, const Level& b);
/// Whether values at `a` vary strictly more finely than at `b` (Group(g) vs Group(h) of
/// different sizes are not comparable: neither is finer).
bool finer(const Level& a, const Level& b);
std::string level_text(const Level& level);

/// What a reduction reduces over: the whole tensor, each row, or each run of `size`
/// consecutive elements of a row (size 0 = the whole row; the last group of a row is
/// partial when size does not divide it).
struct Grouping {
  enum class Kind { All, Row, Group } kind = Grouping::Kind::All;
  NodeRef size;  // Group only: a uniform number
};
Level level_of(const Grouping& grouping);
std::string grouping_text(const Grouping& grouping, const std::string& size_text);

/// One immutable node. Fields not used by a kind are left at their defaults.
struct Node {
  NodeKind kind;
  ScalarType type;
  Level level;
  int op = 0;              // UnaryOp, BinaryOp or ReduceOp; RankCmp: a comparison BinaryOp
  double value = 0;        // Const
  int param = -1;          // Param: index into Kernel::params
  std::string name;        // Param: its name (for printing)
  Grouping grouping;       // Reduce, Quantile
  Level domain;            // Reduce, Quantile: the units reduced over (see make_reduce)
  std::vector<NodeRef> operands;
  uint64_t hash = 0;       // structural: equal nodes have equal hashes

  const Node& operand(size_t i) const { return *operands[i]; }
  bool is_element() const { return level.kind == Level::Kind::Element; }
  bool is_uniform() const { return level.kind == Level::Kind::Uniform; }
  bool is(UnaryOp unary) const { return kind == NodeKind::Unary && op == static_cast<int>(unary); }
  bool is(BinaryOp binary) const { return kind == NodeKind::Binary && op == static_cast<int>(binary); }
};

/// Structural equality (same kind, operator, constants and operands).
bool same_node(const Node& a, const Node& b);

// ---------------------------------------------------------------------------------------
// Factories. Each validates its operands and fails with an Error naming the rule broken;
// none can produce an ill-typed node.

/// A number (f64, uniform), or a boolean when `type` is Bool (value 0 or 1).
NodeRef make_const(double value, ScalarType type = ScalarType::F64);
/// Scalar parameter `index` of the kernel (f64, uniform). Integers are passed as f64, so
/// no integer arithmetic (and no integer overflow) exists in kernels.
Expected<NodeRef> make_param(int index, std::string name);
/// The input element w[row, col] (f32, element level).
NodeRef make_input();
/// neg/abs/sqrt/exp/log/sign/round/floor/ceil take a number; not takes a bool. The level is
/// the operand's; the type f32 at element level, f64 otherwise (bool for not).
Expected<NodeRef> make_unary(UnaryOp op, NodeRef a);
/// Arithmetic takes numbers and gives a number; comparisons take numbers and give a bool;
/// and/or take bools. The level is the join of the operands' (the finer; two different
/// group sizes join to element). A coarser f64 operand meets an f32 one rounded to f32.
Expected<NodeRef> make_binary(BinaryOp op, NodeRef a, NodeRef b);
/// `cond ? a : b` per unit: cond is a bool; a and b both numbers or both bools.
Expected<NodeRef> make_select(NodeRef cond, NodeRef a, NodeRef b);
/// A reduction of `x` over `grouping`: the result is f64 at the grouping's level. The
/// units reduced over (`domain`) are x's units when x varies more finely than the grouping
/// (a per-row value reduced over all reduces over rows), elements otherwise (a coarser x is
/// broadcast to every element). count takes a number (counts non-zeros) or a bool.
Expected<NodeRef> make_reduce(ReduceOp op, NodeRef x, Grouping grouping);
/// The exact q-quantile of `x` over `grouping`: in each group of n units sorted by
/// (value, position), the unit at 0-based rank k = round_half_even(clamp(q,0,1) * n)
/// (see docs/kernels.md). q must be a uniform number.
Expected<NodeRef> make_quantile(NodeRef x, NodeRef q, Grouping grouping);
/// Compares the rank of each unit of `x` with the rank k of `quantile` (which must be a
/// Quantile of x): `x >= quantile(x, s)` holds for exactly the n - k units at rank >= k,
/// so ties are broken by position. op is one of lt le gt ge eq ne. Bool at the quantile's
/// domain level.
Expected<NodeRef> make_rank_cmp(BinaryOp op, NodeRef x, NodeRef quantile);

// ---------------------------------------------------------------------------------------
// Kernels

/// A scalar parameter: a kernel parameter or, in a fused kernel, a knob. `value` is the
/// default used for display and by `kmrc emit` (knob defaults).
struct ParamInfo {
  std::string name;
  std::string type;  // int, float, ratio, bool
  double value = 0;
};

struct Measure {
  std::string name;
  NodeRef value;  // uniform
};

enum class ResultKind { Tensor, Quantized };

/// A kernel: a function of one input tensor and its scalar parameters to an output of
/// the input's shape (f32 values, or quantized codes with scales) and named measures.
struct Kernel {
  std::string name;
  std::string source;  // what it was lowered from ("kernel quantize", "pipeline small: ...")
  std::vector<ParamInfo> params;
  ResultKind result = ResultKind::Tensor;
  NodeRef value;                    // Tensor: a number at any level (broadcast to elements)
  NodeRef q, scale, zero, bits;     // Quantized: zero may be null
  std::vector<Measure> measures;

  /// Every root the kernel computes: value or q/scale/zero/bits, then the measures.
  std::vector<const Node*> roots() const;
};

/// Nodes reachable from `roots`, operands before users, each once.
std::vector<const Node*> topological_order(const std::vector<const Node*>& roots);

/// A structural hash of the whole kernel (its nodes, result kind and measure names; not
/// its name or parameter defaults): the key of compiled-code caches.
uint64_t structural_hash(const Kernel& kernel);

}  // namespace kmr::kir
