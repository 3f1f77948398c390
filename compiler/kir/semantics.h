// The arithmetic of KIR operators, defined once and shared by the interpreter and the
// JIT's executor, so both engines compute the same value for every operator.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "compiler/kir/kir.h"

namespace kmr::kir::sem {

/// Division is total: x / 0 is 0 (so an all-zero row's scale of 0 gives codes 0, not NaN).
template <class T>
T div(T a, T b) { return b == T(0) ? T(0) : a / b; }
/// min/max pick the first operand unless the second is strictly smaller/larger; with a
/// NaN operand they return the second (as x86 minps/maxps do), deterministically.
template <class T>
T min(T a, T b) { return a < b ? a : b; }
template <class T>
T max(T a, T b) { return a > b ? a : b; }
template <class T>
T sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)); }
/// Round half to even (the default IEEE rounding mode, which kmr never changes).
template <class T>
T round_even(T x) { return std::nearbyint(x); }

template <class T>
T unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sign: return sign(x);
    case UnaryOp::Round: return round_even(x);
    case UnaryOp::Floor: return std::floor(x);
    case UnaryOp::Ceil: return std::ceil(x);
    case UnaryOp::Not: return x == T(0) ? T(1) : T(0);
  }
  return x;
}

/// Arithmetic, comparison (1 or 0) and logic (operands 0/1) operators.
template <class T>
T binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return div(a, b);
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Min: return min(a, b);
    case BinaryOp::Max: return max(a, b);
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::And: return (a != T(0)) && (b != T(0));
    case BinaryOp::Or: return (a != T(0)) || (b != T(0));
  }
  return a;
}

/// Compares a unit's rank position (given by its value and position, as the quantile
/// sorted them) with the quantile's rank k, which was found at (kvalue, kpos).
inline bool rank_compare(BinaryOp op, double value, int64_t pos, double kvalue, int64_t kpos) {
  // Rank order is (value, position) lexicographic; "at or above rank k" = (value, pos) >= (kvalue, kpos).
  bool above = value > kvalue || (value == kvalue && pos > kpos);
  bool at = value == kvalue && pos == kpos;
  switch (op) {
    case BinaryOp::Lt: return !above && !at;
    case BinaryOp::Le: return !above;
    case BinaryOp::Gt: return above;
    case BinaryOp::Ge: return above || at;
    case BinaryOp::Eq: return at;
    case BinaryOp::Ne: return !at;
    default: return false;
  }
}

/// The quantile's rank among n units: round_half_even(clamp(q, 0, 1) * n); NaN q is 0.
inline int64_t quantile_rank(double q, int64_t n) {
  if (!(q > 0)) return 0;
  if (q >= 1) return n;
  double k = std::nearbyint(q * static_cast<double>(n));
  return k < 0 ? 0 : (k > static_cast<double>(n) ? n : static_cast<int64_t>(k));
}

/// The quantized code of q: rounded half to even, saturated to [lo, hi]; NaN gives 0
/// (and the kernel reports the NaN as an error).
inline int32_t to_code(float q, float lo, float hi) {
  float c = round_even(q);
  c = c > hi ? hi : c;
  c = c < lo ? lo : c;
  return c == c ? static_cast<int32_t>(c) : 0;
}

inline bool finite(double x) { return std::fabs(x) <= std::numeric_limits<double>::max(); }

}  // namespace kmr::kir::sem
