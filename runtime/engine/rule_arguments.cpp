// A small evaluator over knob values: rule arguments are literals, knobs, arithmetic and
// lists of those (the checker has typed them already).
#include "runtime/engine/rule_arguments.h"

#include <cmath>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "compiler/syntax/formatter.h"

namespace kmr::engine {
namespace {

Expected<double> number_of(const ast::Expr& expr, const KnobLookup& knob) {
  switch (expr.kind) {
    case ast::ExprKind::Number: return sema::literal_value(*expr.as<ast::NumberExpr>());
    case ast::ExprKind::Bool: return expr.as<ast::BoolExpr>()->value ? 1.0 : 0.0;
    case ast::ExprKind::Name: {
      const std::string& name = expr.as<ast::NameExpr>()->name;
      if (auto value = knob(name)) return *value;
      return Error{fmt::format("'{}' has no numeric value here", name)};
    }
    case ast::ExprKind::Unary: {
      auto operand = number_of(*expr.as<ast::UnaryExpr>()->operand, knob);
      if (!operand) return operand;
      return expr.as<ast::UnaryExpr>()->op == ast::UnaryOp::Neg ? -*operand : double(*operand == 0);
    }
    case ast::ExprKind::Binary: {
      const auto& binary = *expr.as<ast::BinaryExpr>();
      auto lhs = number_of(*binary.lhs, knob);
      if (!lhs) return lhs;
      auto rhs = number_of(*binary.rhs, knob);
      if (!rhs) return rhs;
      switch (binary.op) {
        case ast::BinaryOp::Add: return *lhs + *rhs;
        case ast::BinaryOp::Sub: return *lhs - *rhs;
        case ast::BinaryOp::Mul: return *lhs * *rhs;
        case ast::BinaryOp::Div:
          if (*rhs == 0) return Error{"division by zero"};
          return *lhs / *rhs;
        case ast::BinaryOp::Pow: return std::pow(*lhs, *rhs);
        default: break;
      }
      break;
    }
    default: break;
  }
  return Error{fmt::format("cannot compute `{}` as a rule argument", syntax::format_expr(expr))};
}

Expected<RuleArgument> argument_of(const std::string& param, const ast::Expr& expr, const KnobLookup& knob) {
  RuleArgument arg;
  arg.param = param;
  if (const auto* list = expr.as<ast::ListExpr>()) {
    arg.is_list = true;
    for (const auto& element : list->elements) {
      auto value = number_of(*element, knob);
      if (!value) return Error{fmt::format("argument '{}': {}", param, value.error().message)};
      arg.list.push_back(*value);
    }
    return arg;
  }
  if (const auto* name = expr.as<ast::NameExpr>(); name && !knob(name->name)) {
    arg.name = name->name;
    return arg;
  }
  auto value = number_of(expr, knob);
  if (!value) return Error{fmt::format("argument '{}': {}", param, value.error().message)};
  arg.number = *value;
  return arg;
}

}  // namespace

Expected<std::vector<RuleArgument>> bind_rule_arguments(const ast::CallExpr& call, const ast::KernelDecl& kernel,
                                                        const KnobLookup& knob) {
  std::vector<const ast::Expr*> bound(kernel.params.size(), nullptr);
  size_t position = 1;
  for (const auto& arg : call.args) {
    size_t index = position;
    if (!arg.name.empty()) {
      index = kernel.params.size();
      for (size_t p = 1; p < kernel.params.size(); ++p)
        if (kernel.params[p].name == arg.name) index = p;
    } else {
      ++position;
    }
    if (index >= kernel.params.size())
      return Error{fmt::format("'{}' has no parameter for argument `{}`", kernel.name, syntax::format_expr(*arg.value))};
    bound[index] = arg.value.get();
  }
  std::vector<RuleArgument> args;
  for (size_t p = 1; p < kernel.params.size(); ++p) {
    const ast::Expr* expr = bound[p] ? bound[p] : kernel.params[p].default_value.get();
    if (expr == nullptr) return Error{fmt::format("'{}' needs an argument for '{}'", kernel.name, kernel.params[p].name)};
    auto arg = argument_of(kernel.params[p].name, *expr, knob);
    if (!arg) return arg.error();
    args.push_back(std::move(*arg));
  }
  return args;
}

const RuleArgument* find_argument(const std::vector<RuleArgument>& args, const std::string& param) {
  for (const auto& arg : args)
    if (arg.param == param) return &arg;
  return nullptr;
}

std::vector<double> argument_key(const std::vector<RuleArgument>& args) {
  std::vector<double> key;
  for (const auto& arg : args) {
    key.push_back(arg.is_list ? static_cast<double>(arg.list.size()) : arg.number);
    key.insert(key.end(), arg.list.begin(), arg.list.end());
    // Names are fixed by the script, so they cannot tell two configurations apart.
  }
  return key;
}

}  // namespace kmr::engine
