// Interval analysis over KIR, operands before users. Bounds are computed in f64 with
// round-to-nearest: they may be off by an ulp, never by a sign, which is all the uses need
// (finiteness, a base above zero, a divisor away from zero, small whole bounds).
#include "compiler/passes/value_range.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

#include "compiler/kir/semantics.h"

namespace kmr::passes {
namespace {

using kir::BinaryOp;
using kir::NodeKind;
using kir::UnaryOp;

constexpr double kInf = std::numeric_limits<double>::infinity();

ValueRange unknown(bool nan) { return {-kInf, kInf, nan, false}; }
ValueRange boolean() { return {0, 1, false, true}; }

ValueRange hull(const ValueRange& a, const ValueRange& b) {
  return {std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.nan || b.nan, a.whole && b.whole};
}

// f over the corners of [a.lo, a.hi] x [b.lo, b.hi], for f monotone in each operand.
template <class F>
ValueRange corners(const ValueRange& a, const ValueRange& b, bool whole, F f) {
  ValueRange r{kInf, -kInf, a.nan || b.nan, whole};
  for (double x : {a.lo, a.hi})
    for (double y : {b.lo, b.hi}) {
      double v = f(x, y);
      if (std::isnan(v)) return {-kInf, kInf, true, whole};  // inf - inf, 0 * inf: NaN is possible
      r.lo = std::min(r.lo, v);
      r.hi = std::max(r.hi, v);
    }
  return r;
}

ValueRange unary(UnaryOp op, const ValueRange& a) {
  switch (op) {
    case UnaryOp::Neg: return {-a.hi, -a.lo, a.nan, a.whole};
    case UnaryOp::Abs:
      if (a.lo >= 0) return a;
      if (a.hi <= 0) return {-a.hi, -a.lo, a.nan, a.whole};
      return {0, std::max(-a.lo, a.hi), a.nan, a.whole};
    case UnaryOp::Sqrt:  // of a negative number the run fails
      return {std::sqrt(std::max(a.lo, 0.0)), std::sqrt(std::max(a.hi, 0.0)), a.nan, false};
    case UnaryOp::Exp: return {std::exp(a.lo), std::exp(a.hi), a.nan, false};
    case UnaryOp::Log:  // likewise
      return {a.lo > 0 ? std::log(a.lo) : -kInf, a.hi > 0 ? std::log(a.hi) : -kInf, a.nan, false};
    case UnaryOp::Sign: return {-1, 1, false, true};  // sign(NaN) is 0
    case UnaryOp::Round: return {std::nearbyint(a.lo), std::nearbyint(a.hi), a.nan, true};
    case UnaryOp::Floor: return {std::floor(a.lo), std::floor(a.hi), a.nan, true};
    case UnaryOp::Ceil: return {std::ceil(a.lo), std::ceil(a.hi), a.nan, true};
    case UnaryOp::Not: return boolean();
  }
  return unknown(true);
}

ValueRange binary(BinaryOp op, const ValueRange& a, const ValueRange& b) {
  bool whole = a.whole && b.whole;
  switch (op) {
    case BinaryOp::Add: return corners(a, b, whole, [](double x, double y) { return x + y; });
    case BinaryOp::Sub: return corners(a, b, whole, [](double x, double y) { return x - y; });
    case BinaryOp::Mul: return corners(a, b, whole, [](double x, double y) { return x * y; });
    case BinaryOp::Div:
      if (b.lo > 0 || b.hi < 0) return corners(a, b, false, [](double x, double y) { return x / y; });
      return unknown(true);
    case BinaryOp::Pow: {
      // A positive base makes pow monotone in each operand; a whole base to a whole power
      // of at least 0 is whole.
      if (a.lo <= 0 || a.nan || b.nan) return unknown(true);
      return corners(a, b, whole && b.lo >= 0, [](double x, double y) { return std::pow(x, y); });
    }
    // max(x, y) is y when either is NaN: a NaN first operand leaves the second's range.
    case BinaryOp::Max: return {a.nan ? b.lo : std::max(a.lo, b.lo), std::max(a.hi, b.hi), b.nan, whole};
    case BinaryOp::Min: return {std::min(a.lo, b.lo), a.nan ? b.hi : std::min(a.hi, b.hi), b.nan, whole};
    default: return boolean();  // comparisons and logic
  }
}

ValueRange range_of(const kir::Node& node, const std::unordered_map<const kir::Node*, ValueRange>& known) {
  auto operand = [&](size_t i) { return known.at(node.operands[i].get()); };
  switch (node.kind) {
    case NodeKind::Const:
      return {node.value, node.value, std::isnan(node.value), node.value == std::floor(node.value)};
    case NodeKind::Param: return unknown(false);  // parameters are checked finite
    case NodeKind::Input: return unknown(false);  // so are the weights
    case NodeKind::Unary: return unary(static_cast<UnaryOp>(node.op), operand(0));
    case NodeKind::Binary: return binary(static_cast<BinaryOp>(node.op), operand(0), operand(1));
    case NodeKind::Select: return hull(operand(1), operand(2));
    case NodeKind::Reduce:
      switch (static_cast<kir::ReduceOp>(node.op)) {
        case kir::ReduceOp::Sum: return {-kInf, kInf, true, operand(0).whole};  // may overflow
        case kir::ReduceOp::Max:
        case kir::ReduceOp::Min: return hull(operand(0), {0, 0, false, true});  // 0 over no units
        case kir::ReduceOp::Mean: return unknown(true);
        case kir::ReduceOp::Count: return {0, kInf, false, true};
      }
      return unknown(true);
    case NodeKind::Quantile: return hull(operand(0), {0, 0, false, true});
    case NodeKind::RankCmp: return boolean();
  }
  return unknown(true);
}

}  // namespace

std::unordered_map<const kir::Node*, ValueRange> value_ranges(const kir::Kernel& kernel) {
  std::unordered_map<const kir::Node*, ValueRange> ranges;
  for (const kir::Node* node : kir::topological_order(kernel.roots())) {
    ValueRange r = range_of(*node, ranges);
    if (node == kernel.bits.get()) r = {std::max(r.lo, 2.0), std::min(r.hi, 8.0), false, true};
    ranges.emplace(node, r);
  }
  return ranges;
}

namespace {

// The value of `node` when the kernel's bits are `bits`, for nodes computed from bits and
// constants only; NaN for any other node.
double value_for_bits(const kir::Node& node, const kir::Kernel& kernel, double bits) {
  if (&node == kernel.bits.get()) return bits;
  double v[3] = {0, 0, 0};
  for (size_t i = 0; i < node.operands.size() && i < 3; ++i) v[i] = value_for_bits(node.operand(i), kernel, bits);
  switch (node.kind) {
    case NodeKind::Const: return node.value;
    case NodeKind::Unary: return kir::sem::unary(static_cast<UnaryOp>(node.op), v[0]);
    case NodeKind::Binary: return kir::sem::binary(static_cast<BinaryOp>(node.op), v[0], v[1]);
    case NodeKind::Select: return v[0] != 0 ? v[1] : v[2];
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

bool q_is_finite_whole(const kir::Kernel& kernel, const std::unordered_map<const kir::Node*, ValueRange>& ranges) {
  if (kernel.result != kir::ResultKind::Quantized || !kernel.q) return false;
  // Whole numbers this small stay exact when an element operation rounds them to f32.
  auto small_whole = [&](const kir::NodeRef& bound) {
    const ValueRange& r = ranges.at(bound.get());
    constexpr double kExactInF32 = 16777216.0;
    return !r.nan && r.whole && r.lo >= -kExactInF32 && r.hi <= kExactInF32;
  };
  const kir::Node& outer = *kernel.q;
  bool clamp_like = (outer.is(BinaryOp::Min) && outer.operand(0).is(BinaryOp::Max)) ||
                    (outer.is(BinaryOp::Max) && outer.operand(0).is(BinaryOp::Min));
  if (!clamp_like) return false;
  const kir::Node& inner = outer.operand(0);
  // The inner bound replaces a NaN x and one infinity, the outer bound the other infinity.
  return ranges.at(inner.operands[0].get()).whole && small_whole(inner.operands[1]) && small_whole(outer.operands[1]);
}

}  // namespace

bool q_within_codes(const kir::Kernel& kernel) {
  auto ranges = value_ranges(kernel);
  if (!q_is_finite_whole(kernel, ranges)) return false;
  const kir::Node& outer = *kernel.q;
  const kir::Node& inner = outer.operand(0);
  bool min_outside = outer.is(BinaryOp::Min);  // min(max(x, lo), hi)
  const ValueRange& widths = ranges.at(kernel.bits.get());  // within 2..8: a constant, or any
  for (int bits = static_cast<int>(std::ceil(widths.lo)); bits <= widths.hi; ++bits) {
    // Bounds meet the f32 element as f32 (small whole numbers: exact).
    double inner_bound = static_cast<float>(value_for_bits(inner.operand(1), kernel, bits));
    double outer_bound = static_cast<float>(value_for_bits(outer.operand(1), kernel, bits));
    // min(max(x, a), b) lies in [min(a, b), b]; max(min(x, b), a) in [a, max(a, b)].
    double lowest = min_outside ? std::min(inner_bound, outer_bound) : outer_bound;
    double highest = min_outside ? outer_bound : std::max(inner_bound, outer_bound);
    double code_lo = kernel.zero ? 0 : -std::ldexp(1.0, bits - 1);
    double code_hi = kernel.zero ? std::ldexp(1.0, bits) - 1 : std::ldexp(1.0, bits - 1) - 1;
    if (!(lowest >= code_lo && highest <= code_hi)) return false;  // NaN (another input) fails too
  }
  return true;
}

bool q_is_finite_whole(const kir::Kernel& kernel) { return q_is_finite_whole(kernel, value_ranges(kernel)); }

}  // namespace kmr::passes
