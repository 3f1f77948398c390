// Folding of literal arithmetic with the unit algebra's typing rules.
#include "compiler/sema/const_eval.h"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "compiler/sema/unit_algebra.h"

namespace kmr::sema {
namespace {

using ast::Unit;

double unit_scale(Unit unit) {
  switch (unit) {
    case Unit::percent: return 0.01;
    case Unit::KB: return 1e3;
    case Unit::KiB: return 1024.0;
    case Unit::MB: return 1e6;
    case Unit::MiB: return 1024.0 * 1024;
    case Unit::GB: return 1e9;
    case Unit::GiB: return 1024.0 * 1024 * 1024;
    case Unit::KFLOP: return 1e3;
    case Unit::MFLOP: return 1e6;
    case Unit::GFLOP: return 1e9;
    case Unit::TFLOP: return 1e12;
    case Unit::us: return 1e-6;
    case Unit::ms: return 1e-3;
    case Unit::min: return 60;
    default: return 1;
  }
}

std::optional<Value> fold_binary(ast::BinaryOp op, const Value& a, const Value& b) {
  auto type = binary_result(op, a.type, b.type);
  if (!type || *type == Type::Error || *type == Type::Tensor) return std::nullopt;
  Value out;
  out.type = *type;
  using ast::BinaryOp;
  switch (op) {
    // Integer arithmetic that overflows int64 has no value we could trust.
    case BinaryOp::Add:
      out.number = a.number + b.number;
      if (out.type == Type::Int && __builtin_add_overflow(a.integer, b.integer, &out.integer)) return std::nullopt;
      break;
    case BinaryOp::Sub:
      out.number = a.number - b.number;
      if (out.type == Type::Int && __builtin_sub_overflow(a.integer, b.integer, &out.integer)) return std::nullopt;
      break;
    case BinaryOp::Mul:
      out.number = a.number * b.number;
      if (out.type == Type::Int && __builtin_mul_overflow(a.integer, b.integer, &out.integer)) return std::nullopt;
      break;
    case BinaryOp::Div:
      if (b.number == 0) return std::nullopt;
      out.number = a.number / b.number;
      break;
    case BinaryOp::Pow:
      out.number = std::pow(a.number, b.number);
      if (out.type == Type::Int) {
        if (!(std::fabs(out.number) < 9.0e18)) return std::nullopt;
        out.integer = static_cast<int64_t>(out.number);
      }
      break;
    case BinaryOp::Lt: out.boolean = a.number < b.number; break;
    case BinaryOp::Le: out.boolean = a.number <= b.number; break;
    case BinaryOp::Gt: out.boolean = a.number > b.number; break;
    case BinaryOp::Ge: out.boolean = a.number >= b.number; break;
    case BinaryOp::Eq: out.boolean = a.number == b.number && a.boolean == b.boolean && a.text == b.text; break;
    case BinaryOp::Ne: out.boolean = !(a.number == b.number && a.boolean == b.boolean && a.text == b.text); break;
    case BinaryOp::And: out.boolean = a.boolean && b.boolean; break;
    case BinaryOp::Or: out.boolean = a.boolean || b.boolean; break;
    case BinaryOp::Pipe: return std::nullopt;
  }
  if (!std::isfinite(out.number)) return std::nullopt;
  if (out.type == Type::Int) out.number = static_cast<double>(out.integer);
  return out;
}

}  // namespace

Type literal_type(const ast::NumberExpr& number) {
  switch (number.unit) {
    case Unit::none: return number.is_float ? Type::Float : Type::Int;
    case Unit::percent: return Type::Ratio;
    case Unit::B: case Unit::KB: case Unit::KiB: case Unit::MB: case Unit::MiB: case Unit::GB: case Unit::GiB:
      return Type::Bytes;
    case Unit::FLOP: case Unit::KFLOP: case Unit::MFLOP: case Unit::GFLOP: case Unit::TFLOP:
      return Type::Flops;
    default: return Type::Duration;
  }
}

double literal_value(const ast::NumberExpr& number) { return number.float_value * unit_scale(number.unit); }

std::optional<Value> evaluate_constant(const ast::Expr& expr) {
  switch (expr.kind) {
    case ast::ExprKind::Number: {
      const auto& number = *expr.as<ast::NumberExpr>();
      Value value;
      value.type = literal_type(number);
      value.number = literal_value(number);
      value.integer = number.int_value;
      return value;
    }
    case ast::ExprKind::Bool: {
      Value value;
      value.type = Type::Bool;
      value.boolean = expr.as<ast::BoolExpr>()->value;
      return value;
    }
    case ast::ExprKind::String: {
      Value value;
      value.type = Type::String;
      value.text = expr.as<ast::StringExpr>()->value;
      return value;
    }
    case ast::ExprKind::Unary: {
      const auto& unary = *expr.as<ast::UnaryExpr>();
      auto operand = evaluate_constant(*unary.operand);
      auto type = operand ? unary_result(unary.op, operand->type) : std::nullopt;
      if (!type || *type == Type::Error) return std::nullopt;
      Value value = *operand;
      value.type = *type;
      if (value.integer == INT64_MIN) return std::nullopt;
      value.number = -value.number;
      value.integer = -value.integer;
      value.boolean = !value.boolean;
      return value;
    }
    case ast::ExprKind::Binary: {
      const auto& binary = *expr.as<ast::BinaryExpr>();
      auto lhs = evaluate_constant(*binary.lhs);
      auto rhs = lhs ? evaluate_constant(*binary.rhs) : std::nullopt;
      if (!rhs) return std::nullopt;
      return fold_binary(binary.op, *lhs, *rhs);
    }
    default: return std::nullopt;
  }
}

std::string describe(const Value& value) {
  switch (value.type) {
    case Type::Int: return std::to_string(value.integer);
    case Type::Ratio: return fmt::format("{:g}%", value.number * 100);
    case Type::Bytes: return fmt::format("{:g} B", value.number);
    case Type::Flops: return fmt::format("{:g} FLOP", value.number);
    case Type::Duration: return fmt::format("{:g} s", value.number);
    case Type::Bool: return value.boolean ? "true" : "false";
    case Type::String: return "\"" + value.text + "\"";
    default: return fmt::format("{:g}", value.number);
  }
}

}  // namespace kmr::sema
