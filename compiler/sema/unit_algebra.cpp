// Typing rules for arithmetic, comparison and logic over units.
#include "compiler/sema/unit_algebra.h"

namespace kmr::sema {
namespace {

using ast::BinaryOp;

// Element-wise kernel values mix with plain numbers and with each other.
bool is_elementwise(Type type) { return type == Type::Tensor || is_dimensionless(type); }

std::optional<Type> arithmetic(BinaryOp op, Type lhs, Type rhs) {
  if ((lhs == Type::Tensor || rhs == Type::Tensor) && is_elementwise(lhs) && is_elementwise(rhs))
    return Type::Tensor;
  bool lq = is_quantity(lhs), rq = is_quantity(rhs);
  bool ld = is_dimensionless(lhs), rd = is_dimensionless(rhs);
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
      if (lq || rq) return lhs == rhs ? std::optional<Type>(lhs) : std::nullopt;
      break;
    case BinaryOp::Mul:
      if (lq && rd) return lhs;
      if (ld && rq) return rhs;
      if (lq || rq) return std::nullopt;
      break;
    case BinaryOp::Div:
      if (lq && rd) return lhs;
      if (lq && rq) return lhs == rhs ? std::optional<Type>(Type::Float) : std::nullopt;
      if (rq) return std::nullopt;
      if (ld && rd) return Type::Float;
      return std::nullopt;
    case BinaryOp::Pow:
      if (lq || rq) return std::nullopt;
      break;
    default: return std::nullopt;
  }
  if (!ld || !rd) return std::nullopt;
  if (lhs == Type::Int && rhs == Type::Int) return Type::Int;
  if (lhs == Type::Ratio && rhs == Type::Ratio && op != BinaryOp::Pow) return Type::Ratio;
  return Type::Float;
}

std::optional<Type> comparison(BinaryOp op, Type lhs, Type rhs) {
  if ((lhs == Type::Tensor || rhs == Type::Tensor) && is_elementwise(lhs) && is_elementwise(rhs))
    return Type::Tensor;
  if (is_dimensionless(lhs) && is_dimensionless(rhs)) return Type::Bool;
  if (is_quantity(lhs) || is_quantity(rhs)) return lhs == rhs ? std::optional<Type>(Type::Bool) : std::nullopt;
  bool equality = op == BinaryOp::Eq || op == BinaryOp::Ne;
  if (equality && lhs == rhs && (lhs == Type::Bool || lhs == Type::String)) return Type::Bool;
  return std::nullopt;
}

}  // namespace

std::optional<Type> binary_result(BinaryOp op, Type lhs, Type rhs) {
  if (lhs == Type::Error || rhs == Type::Error) return Type::Error;
  switch (op) {
    case BinaryOp::And:
    case BinaryOp::Or:
      if (lhs == Type::Bool && rhs == Type::Bool) return Type::Bool;
      if ((lhs == Type::Tensor || lhs == Type::Bool) && (rhs == Type::Tensor || rhs == Type::Bool))
        return Type::Tensor;
      return std::nullopt;
    case BinaryOp::Pipe: return std::nullopt;
    default:
      return ast::is_comparison(op) ? comparison(op, lhs, rhs) : arithmetic(op, lhs, rhs);
  }
}

std::optional<Type> unary_result(ast::UnaryOp op, Type operand) {
  if (operand == Type::Error) return Type::Error;
  if (op == ast::UnaryOp::Not) {
    if (operand == Type::Bool || operand == Type::Tensor) return operand;
    return std::nullopt;
  }
  if (operand == Type::Ratio) return Type::Float;  // a negative ratio is no longer in [0, 1]
  if (is_numeric(operand) || operand == Type::Tensor) return operand;
  return std::nullopt;
}

const char* operation_verb(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "subtract";
    case BinaryOp::Mul: return "multiply";
    case BinaryOp::Div: return "divide";
    case BinaryOp::Pow: return "raise";
    case BinaryOp::And:
    case BinaryOp::Or: return "combine";
    default: return "compare";
  }
}

const char* operation_preposition(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "and";
    case BinaryOp::Sub: return "from";
    case BinaryOp::Mul:
    case BinaryOp::Div: return "by";
    case BinaryOp::Pow: return "to the power";
    case BinaryOp::And:
    case BinaryOp::Or: return "with";
    default: return "with";
  }
}

}  // namespace kmr::sema
