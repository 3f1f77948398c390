// The unit algebra of DESIGN.md §2: what each operator gives for each pair of types.
#include <doctest/doctest.h>

#include "compiler/sema/unit_algebra.h"

namespace kmr::sema {
namespace {

using ast::BinaryOp;
using T = Type;

std::optional<Type> apply(BinaryOp op, Type a, Type b) { return binary_result(op, a, b); }

TEST_CASE("quantities add and subtract only with the same quantity") {
  CHECK(apply(BinaryOp::Add, T::Bytes, T::Bytes) == T::Bytes);
  CHECK(apply(BinaryOp::Sub, T::Flops, T::Flops) == T::Flops);
  CHECK(apply(BinaryOp::Add, T::Duration, T::Duration) == T::Duration);
  CHECK_FALSE(apply(BinaryOp::Add, T::Bytes, T::Ratio));
  CHECK_FALSE(apply(BinaryOp::Add, T::Bytes, T::Int));
  CHECK_FALSE(apply(BinaryOp::Sub, T::Bytes, T::Flops));
  CHECK_FALSE(apply(BinaryOp::Add, T::Duration, T::Bytes));
}

TEST_CASE("quantities scale by dimensionless numbers") {
  CHECK(apply(BinaryOp::Mul, T::Bytes, T::Int) == T::Bytes);
  CHECK(apply(BinaryOp::Mul, T::Ratio, T::Bytes) == T::Bytes);
  CHECK(apply(BinaryOp::Mul, T::Float, T::Flops) == T::Flops);
  CHECK(apply(BinaryOp::Div, T::Bytes, T::Int) == T::Bytes);
  CHECK_FALSE(apply(BinaryOp::Mul, T::Bytes, T::Bytes));
  CHECK_FALSE(apply(BinaryOp::Div, T::Int, T::Bytes));
  CHECK_FALSE(apply(BinaryOp::Pow, T::Bytes, T::Int));
}

TEST_CASE("a quantity divided by the same quantity is a plain float") {
  CHECK(apply(BinaryOp::Div, T::Bytes, T::Bytes) == T::Float);
  CHECK(apply(BinaryOp::Div, T::Duration, T::Duration) == T::Float);
  CHECK_FALSE(apply(BinaryOp::Div, T::Bytes, T::Flops));
}

TEST_CASE("dimensionless numbers mix, keeping int and ratio where they can") {
  CHECK(apply(BinaryOp::Add, T::Int, T::Int) == T::Int);
  CHECK(apply(BinaryOp::Mul, T::Int, T::Int) == T::Int);
  CHECK(apply(BinaryOp::Pow, T::Int, T::Int) == T::Int);
  CHECK(apply(BinaryOp::Div, T::Int, T::Int) == T::Float);
  CHECK(apply(BinaryOp::Add, T::Int, T::Float) == T::Float);
  CHECK(apply(BinaryOp::Sub, T::Ratio, T::Ratio) == T::Ratio);
  CHECK(apply(BinaryOp::Mul, T::Ratio, T::Ratio) == T::Ratio);
  CHECK(apply(BinaryOp::Div, T::Ratio, T::Ratio) == T::Float);
  CHECK(apply(BinaryOp::Add, T::Ratio, T::Float) == T::Float);
}

TEST_CASE("comparisons need comparable units and give bool") {
  CHECK(apply(BinaryOp::Le, T::Bytes, T::Bytes) == T::Bool);
  CHECK(apply(BinaryOp::Ge, T::Ratio, T::Ratio) == T::Bool);
  CHECK(apply(BinaryOp::Lt, T::Int, T::Ratio) == T::Bool);
  CHECK_FALSE(apply(BinaryOp::Le, T::Bytes, T::Ratio));
  CHECK_FALSE(apply(BinaryOp::Gt, T::Flops, T::Duration));
  CHECK_FALSE(apply(BinaryOp::Lt, T::String, T::String));
  CHECK(apply(BinaryOp::Eq, T::String, T::String) == T::Bool);
  CHECK(apply(BinaryOp::Ne, T::Bool, T::Bool) == T::Bool);
}

TEST_CASE("logic takes bools") {
  CHECK(apply(BinaryOp::And, T::Bool, T::Bool) == T::Bool);
  CHECK_FALSE(apply(BinaryOp::Or, T::Bool, T::Int));
  CHECK(unary_result(ast::UnaryOp::Not, T::Bool) == T::Bool);
  CHECK_FALSE(unary_result(ast::UnaryOp::Not, T::Int));
}

TEST_CASE("tensors combine element-wise with numbers and give masks when compared") {
  CHECK(apply(BinaryOp::Mul, T::Tensor, T::Float) == T::Tensor);
  CHECK(apply(BinaryOp::Sub, T::Int, T::Tensor) == T::Tensor);
  CHECK(apply(BinaryOp::Ge, T::Tensor, T::Float) == T::Tensor);
  CHECK_FALSE(apply(BinaryOp::Add, T::Tensor, T::Bytes));
}

TEST_CASE("negation keeps units, but a negated ratio is no longer a ratio") {
  CHECK(unary_result(ast::UnaryOp::Neg, T::Bytes) == T::Bytes);
  CHECK(unary_result(ast::UnaryOp::Neg, T::Int) == T::Int);
  CHECK(unary_result(ast::UnaryOp::Neg, T::Ratio) == T::Float);
  CHECK_FALSE(unary_result(ast::UnaryOp::Neg, T::String));
}

TEST_CASE("an operand that already failed does not cascade") {
  CHECK(apply(BinaryOp::Add, T::Error, T::Bytes) == T::Error);
  CHECK(apply(BinaryOp::Le, T::Ratio, T::Error) == T::Error);
}

}  // namespace
}  // namespace kmr::sema
