// Evaluation of constant expressions: knob domains and defaults, literal arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "compiler/ast/ast.h"
#include "compiler/sema/types.h"

namespace kmr::sema {

/// A constant. Quantities are in base units (bytes, FLOP, seconds); ratios in [0, 1].
struct Value {
  Type type = Type::Error;
  double number = 0;     // every numeric type
  int64_t integer = 0;   // Int only
  bool boolean = false;
  std::string text;      // String only
};

/// The value of `expr` when it is built from literals and arithmetic only; nullopt for
/// anything else (names, calls) or for arithmetic that has no value (division by zero,
/// unit errors: the type checker reports those).
std::optional<Value> evaluate_constant(const ast::Expr& expr);

/// The type a number literal has given its unit (percent -> ratio, KiB -> bytes, ...).
Type literal_type(const ast::NumberExpr& number);
/// The literal's value in base units.
double literal_value(const ast::NumberExpr& number);

/// How a value reads in a message: `12`, `1.5`, `50%`, `64 KiB` style base units.
std::string describe(const Value& value);

}  // namespace kmr::sema
