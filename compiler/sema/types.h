// The types of KMR values, and which converts to which.
#pragma once

#include <optional>
#include <string>

namespace kmr::sema {

/// `Error` is the type of an expression that already produced a diagnostic: every check
/// accepts it silently, so one mistake is reported once.
enum class Type {
  Error, Void, Int, Float, Bool, String, Ratio, Bytes, Flops, Duration,
  Tensor, QTensor, Model, Data, Selection, List, Arch, Activation, Grouping,
};

/// The name a user writes (`bytes`) or reads in a message.
const char* type_name(Type type);
/// The type named by a type annotation (`int`, `bytes`, `list`, ...).
std::optional<Type> type_from_name(const std::string& name);

/// Numbers without a unit: int, float, ratio.
bool is_dimensionless(Type type);
/// Numbers with a unit: bytes, flops, duration.
bool is_quantity(Type type);
bool is_numeric(Type type);
/// Whether a value of type `from` may be passed where `to` is expected: int widens to
/// float, ratio is a float, and Error converts to anything.
bool assignable(Type from, Type to);

}  // namespace kmr::sema
