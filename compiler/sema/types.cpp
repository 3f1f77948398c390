// Type names and conversions.
#include "compiler/sema/types.h"

namespace kmr::sema {
namespace {

struct TypeName {
  Type type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {Type::Int, "int"},         {Type::Float, "float"},         {Type::Bool, "bool"},
    {Type::String, "string"},   {Type::Ratio, "ratio"},         {Type::Bytes, "bytes"},
    {Type::Flops, "flops"},     {Type::Duration, "duration"},   {Type::Tensor, "tensor"},
    {Type::QTensor, "qtensor"}, {Type::Model, "model"},         {Type::Data, "data"},
    {Type::Selection, "selection"}, {Type::List, "list"},
};

}  // namespace

const char* type_name(Type type) {
  for (const auto& entry : kTypeNames)
    if (entry.type == type) return entry.name;
  switch (type) {
    case Type::Error: return "<error>";
    case Type::Void: return "nothing";
    case Type::Arch: return "architecture";
    case Type::Activation: return "activation";
    case Type::Grouping: return "grouping";
    default: return "?";
  }
}

std::optional<Type> type_from_name(const std::string& name) {
  for (const auto& entry : kTypeNames)
    if (name == entry.name) return entry.type;
  return std::nullopt;
}

bool is_dimensionless(Type type) { return type == Type::Int || type == Type::Float || type == Type::Ratio; }
bool is_quantity(Type type) { return type == Type::Bytes || type == Type::Flops || type == Type::Duration; }
bool is_numeric(Type type) { return is_dimensionless(type) || is_quantity(type); }

bool assignable(Type from, Type to) {
  if (from == to || from == Type::Error || to == Type::Error) return true;
  if (to == Type::Float) return from == Type::Int || from == Type::Ratio;
  return false;
}

}  // namespace kmr::sema
