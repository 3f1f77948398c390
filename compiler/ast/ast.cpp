// Names and precedences of AST operators and units, shared by the parser, printers and checker.
#include "compiler/ast/ast.h"

namespace kmr::ast {
namespace {

struct UnitName {
  Unit unit;
  const char* name;
};
constexpr UnitName kUnitNames[] = {
    {Unit::percent, "%"}, {Unit::B, "B"},         {Unit::KB, "KB"},       {Unit::KiB, "KiB"},
    {Unit::MB, "MB"},     {Unit::MiB, "MiB"},     {Unit::GB, "GB"},       {Unit::GiB, "GiB"},
    {Unit::FLOP, "FLOP"}, {Unit::KFLOP, "KFLOP"}, {Unit::MFLOP, "MFLOP"}, {Unit::GFLOP, "GFLOP"},
    {Unit::TFLOP, "TFLOP"}, {Unit::us, "us"},     {Unit::ms, "ms"},       {Unit::s, "s"},
    {Unit::min, "min"},
};

}  // namespace

const char* unit_name(Unit unit) {
  for (const auto& entry : kUnitNames)
    if (entry.unit == unit) return entry.name;
  return "";
}

std::optional<Unit> unit_from_name(const std::string& name) {
  for (const auto& entry : kUnitNames)
    if (name == entry.name) return entry.unit;
  return std::nullopt;
}

const char* unary_op_text(UnaryOp op) { return op == UnaryOp::Neg ? "-" : "not"; }

const char* binary_op_text(BinaryOp op) {
  switch (op) {
    case BinaryOp::Pow: return "^";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Lt: return "<";
    case BinaryOp::Le: return "<=";
    case BinaryOp::Gt: return ">";
    case BinaryOp::Ge: return ">=";
    case BinaryOp::Eq: return "==";
    case BinaryOp::Ne: return "!=";
    case BinaryOp::And: return "and";
    case BinaryOp::Or: return "or";
    case BinaryOp::Pipe: return "|>";
  }
  return "?";
}

int binary_precedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::Pow: return 7;
    case BinaryOp::Mul:
    case BinaryOp::Div: return 5;
    case BinaryOp::Add:
    case BinaryOp::Sub: return 4;
    case BinaryOp::And: return 2;
    case BinaryOp::Or: return 1;
    case BinaryOp::Pipe: return 0;
    default: return 3;  // comparisons
  }
}

bool is_comparison(BinaryOp op) { return binary_precedence(op) == 3; }

const char* decl_keyword(DeclKind kind) {
  switch (kind) {
    case DeclKind::Import: return "import";
    case DeclKind::Model: return "model";
    case DeclKind::Data: return "data";
    case DeclKind::Knob: return "knob";
    case DeclKind::Rule: return "rule";
    case DeclKind::Kernel: return "kernel";
    case DeclKind::Pipeline: return "pipeline";
    case DeclKind::Meter: return "meter";
    case DeclKind::Budget: return "budget";
    case DeclKind::Require: return "require";
    case DeclKind::Objective: return "objective";
    case DeclKind::Policy: return "policy";
    case DeclKind::Save: return "save";
    case DeclKind::Report: return "report";
  }
  return "?";
}

}  // namespace kmr::ast
