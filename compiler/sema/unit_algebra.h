// The arithmetic of units: what `bytes + bytes`, `ratio * bytes` or `bytes < ratio` give.
#pragma once

#include <optional>

#include "compiler/ast/ast.h"
#include "compiler/sema/types.h"

namespace kmr::sema {

/// The type of `lhs op rhs`, or nullopt when the operation is a type error. Rules:
/// quantities (bytes, flops, duration) add and compare only with the same quantity, scale
/// by dimensionless numbers, and divide by the same quantity to a float; dimensionless
/// numbers mix freely (int op int stays int except `/`; ratio op ratio stays ratio for
/// + - *); tensors combine element-wise with dimensionless numbers; comparisons give bool
/// (a tensor mask when a tensor is compared); `and`/`or` take bools (or masks). Error
/// operands give Error. `|>` is not typed here.
std::optional<Type> binary_result(ast::BinaryOp op, Type lhs, Type rhs);

/// The type of `op operand`, or nullopt when it is a type error.
std::optional<Type> unary_result(ast::UnaryOp op, Type operand);

/// The verb a unit-mismatch message uses for `op` ("add", "compare", ...), and the
/// preposition between the operands ("and", "with", "by").
const char* operation_verb(ast::BinaryOp op);
const char* operation_preposition(ast::BinaryOp op);

}  // namespace kmr::sema
