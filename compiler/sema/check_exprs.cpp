// Typing of expressions: names in their scope, units through the unit algebra, calls
// against the signatures of the prelude, the host application's meters and kernels.
#include <fmt/format.h>

#include "compiler/sema/checker_internal.h"
#include "compiler/sema/unit_algebra.h"
#include "compiler/syntax/formatter.h"
#include "stdlib/embedded_stdlib.h"

namespace kmr::sema {
namespace {

using diag::Code;

// "it is in std/prune: add `import "std/prune";`" when a stdlib module defines `name`.
std::string import_hint(const std::string& name) {
  for (auto module : stdlib::module_names()) {
    auto text = stdlib::find_module(module);
    if (text && text->find("kernel " + name + "(") != std::string_view::npos)
      return fmt::format(" (it is defined in std/{}: add `import \"std/{}\";`)", module, module);
  }
  return {};
}

bool is_kernel_scope(const Scope& scope) { return scope.where == Where::Kernel; }

}  // namespace

const Local* Scope::find(const std::string& name) const {
  for (auto frame = frames.rbegin(); frame != frames.rend(); ++frame) {
    auto it = frame->find(name);
    if (it != frame->end()) return &it->second;
  }
  return nullptr;
}

const Symbol* Checker::lookup(const std::string& name) const {
  auto it = program_.symbols.find(name);
  return it == program_.symbols.end() ? nullptr : &it->second;
}

void Checker::define_local(Scope& scope, const std::string& name, Local local) {
  auto& frame = scope.frames.back();
  auto existing = frame.find(name);
  if (existing != frame.end()) {
    sink_.report(local.span, Code::duplicate_name, name, where_defined(existing->second.span));
    return;
  }
  frame.emplace(name, local);
}

Type Checker::expect(const ast::Expr& expr, Type wanted, Scope& scope) {
  Type type = type_of(expr, scope);
  if (!assignable(type, wanted)) report_mismatch(expr, type_name(wanted), type);
  return type;
}

void Checker::report_mismatch(const ast::Expr& expr, const std::string& wanted, Type found) {
  const auto* number = expr.as<ast::NumberExpr>();
  if (number && number->unit != ast::Unit::none)
    sink_.report(expr.span, Code::wrong_unit, ast::unit_name(number->unit), type_name(found), wanted);
  else
    sink_.report(expr.span, Code::type_mismatch, wanted, type_name(found));
}

Type Checker::type_of(const ast::Expr& expr, Scope& scope) {
  Type type = Type::Error;
  switch (expr.kind) {
    case ast::ExprKind::Number: {
      const auto& number = *expr.as<ast::NumberExpr>();
      type = literal_type(number);
      if (type == Type::Ratio && literal_value(number) > 1.0)
        sink_.report(expr.span, Code::ratio_out_of_range, syntax::format_expr(expr));
      break;
    }
    case ast::ExprKind::String: type = Type::String; break;
    case ast::ExprKind::Bool: type = Type::Bool; break;
    case ast::ExprKind::Name: type = type_of_name(*expr.as<ast::NameExpr>(), scope); break;
    case ast::ExprKind::List: {
      type = Type::List;
      const auto& elements = expr.as<ast::ListExpr>()->elements;
      Type first = Type::Error;
      for (const auto& element : elements) {
        Type t = type_of(*element, scope);
        if (first == Type::Error) first = t;
        else if (!assignable(t, first) && !assignable(first, t) && t != Type::Error)
          sink_.report(element->span, Code::type_mismatch, type_name(first), type_name(t));
      }
      break;
    }
    case ast::ExprKind::Unary: {
      const auto& unary = *expr.as<ast::UnaryExpr>();
      Type operand = type_of(*unary.operand, scope);
      auto result = unary_result(unary.op, operand);
      if (!result) sink_.report(expr.span, Code::bad_operand, ast::unary_op_text(unary.op), type_name(operand));
      type = result.value_or(Type::Error);
      break;
    }
    case ast::ExprKind::Binary: type = type_of_binary(*expr.as<ast::BinaryExpr>(), scope); break;
    case ast::ExprKind::Call: type = type_of_call(*expr.as<ast::CallExpr>(), scope); break;
    case ast::ExprKind::Member: {
      const auto& member = *expr.as<ast::MemberExpr>();
      type_of(*member.object, scope);
      sink_.report(expr.span, Code::bad_selection,
                   fmt::format("`.{}` is not a value: select tensors with `{}.match(\"glob\")`", member.member,
                               syntax::format_expr(*member.object)));
      break;
    }
    case ast::ExprKind::Index: {
      const auto& index = *expr.as<ast::IndexExpr>();
      Type object = type_of(*index.object, scope);
      type_of(*index.index, scope);
      // An object that already failed (as the inner index of a[i][j] does) is not reported again.
      if (object != Type::Error)
        sink_.report(expr.span, Code::bad_operand, "[]", "this operand: indexing is only for knob family declarations");
      break;
    }
  }
  if (!is_kernel_scope(scope)) program_.types[&expr] = type;
  return type;
}

Type Checker::type_of_name(const ast::NameExpr& name, Scope& scope) {
  if (const Local* local = scope.find(name.name)) return local->type;
  const Symbol* symbol = lookup(name.name);
  if (is_kernel_scope(scope)) {
    // Kernels are pure functions of their parameters: knobs and models come in as arguments.
    if (symbol)
      sink_.report(name.span, Code::wrong_kind, name.name, symbol_kind_phrase(symbol->kind),
                   "a parameter or `let` of this kernel (pass it as an argument)");
    else
      sink_.report(name.span, Code::undefined_name, name.name);
    return Type::Error;
  }
  if (symbol == nullptr) {
    if (is_activation(name.name)) return Type::Activation;
    sink_.add(name.span, Code::undefined_name,
              fmt::format("undefined name '{}'{}", name.name, import_hint(name.name)));
    return Type::Error;
  }
  switch (symbol->kind) {
    case SymbolKind::Knob:
      used_knobs_.insert(name.name);
      return symbol->type;
    case SymbolKind::Meter:
      if (scope.where == Where::Policy) {
        sink_.report(name.span, Code::wrong_kind, name.name, "a meter",
                     fmt::format("a knob or local in a policy (read a meter with measure({}))", name.name));
        return Type::Error;
      }
      used_meters_.insert(name.name);
      if (!current_decl_.empty()) depends_on_[current_decl_].push_back(name.name);
      return symbol->type;
    case SymbolKind::Model:
    case SymbolKind::Pipeline:
      return Type::Model;
    case SymbolKind::Data: return Type::Data;
    default:
      sink_.report(name.span, Code::wrong_kind, name.name, symbol_kind_phrase(symbol->kind),
                   symbol->kind == SymbolKind::Rule ? "a value (rules are composed with `|>` in a pipeline)" : "a value");
      return Type::Error;
  }
}

Type Checker::type_of_binary(const ast::BinaryExpr& binary, Scope& scope) {
  if (binary.op == ast::BinaryOp::Pipe) {
    sink_.report(binary.op_span, Code::bad_operand, "|>",
                 "operands here: `|>` composes rules in a pipeline declaration (`pipeline p = m |> r;`)");
    return Type::Error;
  }
  Type lhs = type_of(*binary.lhs, scope);
  Type rhs = type_of(*binary.rhs, scope);
  auto result = binary_result(binary.op, lhs, rhs);
  if (result) return *result;
  if (binary.op == ast::BinaryOp::Sub)
    sink_.report(binary.span, Code::unit_mismatch, "subtract", type_name(rhs), "from", type_name(lhs));
  else
    sink_.report(binary.span, Code::unit_mismatch, operation_verb(binary.op), type_name(lhs),
                 operation_preposition(binary.op), type_name(rhs));
  return Type::Error;
}

std::vector<const ast::Expr*> Checker::bind_arguments(const std::string& callee, const std::vector<BuiltinParam>& params,
                                                      const std::vector<ast::Arg>& args, const source::Span& call_span,
                                                      const char* surplus_note, Scope& scope) {
  std::vector<const ast::Expr*> bound(params.size(), nullptr);
  std::vector<const ast::Expr*> unbound;
  size_t positional = 0;
  bool named_seen = false;
  for (const auto& arg : args) {
    if (arg.name.empty()) {
      if (named_seen) {
        sink_.report(arg.value->span, Code::bad_argument, "a positional argument cannot follow a named one");
        unbound.push_back(arg.value.get());
        continue;
      }
      if (positional < params.size()) bound[positional] = arg.value.get();
      else unbound.push_back(arg.value.get());
      ++positional;
      continue;
    }
    named_seen = true;
    size_t i = 0;
    while (i < params.size() && params[i].name != arg.name) ++i;
    if (i == params.size()) {
      std::string names;
      for (const auto& p : params) names += (names.empty() ? "" : ", ") + p.name;
      sink_.report(arg.name_span, Code::bad_argument,
                   fmt::format("'{}' has no parameter named '{}' (its parameters: {})", callee, arg.name,
                               names.empty() ? "none" : names));
      unbound.push_back(arg.value.get());
    } else if (bound[i] != nullptr) {
      sink_.report(arg.name_span, Code::bad_argument, fmt::format("argument '{}' is given twice", arg.name));
      unbound.push_back(arg.value.get());
    } else {
      bound[i] = arg.value.get();
    }
  }
  for (const ast::Expr* value : unbound) type_of(*value, scope);
  if (positional > params.size()) {
    sink_.report(call_span, Code::bad_argument,
                 fmt::format("'{}' takes {} argument{}{}, but {} {} given", callee, params.size(),
                             params.size() == 1 ? "" : "s", surplus_note, positional, positional == 1 ? "was" : "were"));
    return bound;
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (bound[i] == nullptr && params[i].required)
      sink_.report(call_span, Code::bad_argument, fmt::format("missing argument '{}' of '{}'", params[i].name, callee));
  return bound;
}

Type Checker::type_of_call(const ast::CallExpr& call, Scope& scope) {
  // `model.match("glob")`: the tensors of a named model.
  if (const auto* member = call.callee->as<ast::MemberExpr>()) {
    Type object = type_of(*member->object, scope);
    if (member->member != "match") {
      sink_.report(member->member_span, Code::bad_selection,
                   fmt::format("models have no method '{}'; select tensors with .match(\"glob\")", member->member));
      return Type::Error;
    }
    if (object != Type::Model && object != Type::Error)
      sink_.report(member->object->span, Code::type_mismatch, "model", type_name(object));
    const Builtin* match = find_builtin("match", {BuiltinKind::Selection});
    auto bound = bind_arguments("match", match->params, call.args, call.span, "", scope);
    if (bound[0]) expect(*bound[0], Type::String, scope);
    return Type::Selection;
  }
  const auto* name = call.callee->as<ast::NameExpr>();
  if (name == nullptr) {
    sink_.report(call.callee->span, Code::not_callable, "this expression");
    return Type::Error;
  }
  if (name->name == "measure") {
    if (scope.where != Where::Policy) {
      sink_.report(call.span, Code::statement_not_allowed, "measure(...)", "this context; it reads a meter in a scripted policy");
      return Type::Error;
    }
    if (call.args.size() != 1 || !call.args[0].name.empty()) {
      sink_.report(call.span, Code::bad_argument, "measure takes one meter: measure(size)");
      return Type::Error;
    }
    const auto* meter = call.args[0].value->as<ast::NameExpr>();
    const Symbol* symbol = meter ? lookup(meter->name) : nullptr;
    if (meter && symbol == nullptr) {
      sink_.report(meter->span, Code::undefined_name, meter->name);
      return Type::Error;
    }
    if (symbol == nullptr || symbol->kind != SymbolKind::Meter) {
      sink_.report(call.args[0].value->span, Code::wrong_kind, syntax::format_expr(*call.args[0].value),
                   symbol ? symbol_kind_phrase(symbol->kind) : "not a meter", "a meter");
      return Type::Error;
    }
    used_meters_.insert(meter->name);
    return symbol->type;
  }
  if (is_kernel_scope(scope)) {
    const Symbol* symbol = scope.find(name->name) ? nullptr : lookup(name->name);
    if (symbol && symbol->kind == SymbolKind::Kernel) {
      const auto& kernel = static_cast<const ast::KernelDecl&>(*symbol->decl);
      depends_on_["kernel " + scope.kernel->name].push_back("kernel " + kernel.name);
      std::vector<BuiltinParam> params;
      for (const auto& p : kernel.params)
        params.push_back({p.name, type_from_name(p.type.name).value_or(Type::Error), p.default_value == nullptr});
      auto bound = bind_arguments(kernel.name, params, call.args, call.span, "", scope);
      for (size_t i = 0; i < bound.size(); ++i) {
        if (bound[i] == nullptr) continue;
        if (params[i].type != Type::Tensor) {
          expect(*bound[i], params[i].type, scope);
          continue;
        }
        // A tensor parameter takes a tensor, or a number that broadcasts to every element.
        Type type = type_of(*bound[i], scope);
        if (type != Type::Error && type != Type::Tensor && !is_dimensionless(type))
          report_mismatch(*bound[i], "a tensor or number", type);
      }
      return type_from_name(kernel.result.name).value_or(Type::Error);
    }
    bool reduction_form = false;
    for (const auto& arg : call.args) reduction_form |= arg.name == "over";
    if (name->name == "sum" || name->name == "mean" || name->name == "count" || name->name == "quantile") reduction_form = true;
    if ((name->name == "min" || name->name == "max") && call.args.size() == 1) reduction_form = true;
    const Builtin* builtin = find_builtin(name->name, {reduction_form ? BuiltinKind::Reduction : BuiltinKind::Elementwise});
    if (builtin) return type_of_kernel_function(*builtin, call, scope);
    sink_.report(name->span, Code::undefined_name, name->name);
    for (const auto& arg : call.args) type_of(*arg.value, scope);
    return Type::Error;
  }
  if (const Builtin* builtin = find_builtin(name->name, {BuiltinKind::Source, BuiltinKind::Arch, BuiltinKind::Meter,
                                                         BuiltinKind::Selection}, options_.host_meters))
    if (lookup(name->name) == nullptr) return type_of_builtin_call(*builtin, call, scope);
  const Symbol* symbol = lookup(name->name);
  if (symbol == nullptr) {
    type_of_name(*name, scope);  // reports it undefined
  } else if (symbol->kind == SymbolKind::Kernel) {
    sink_.report(call.span, Code::wrong_kind, name->name, "a kernel", "a function here: kernels run as rules (`rule r = k(...) on m.match(\"...\");`)");
  } else {
    sink_.report(name->span, Code::not_callable, fmt::format("'{}' ({})", name->name, symbol_kind_phrase(symbol->kind)));
  }
  for (const auto& arg : call.args) type_of(*arg.value, scope);
  return Type::Error;
}

Type Checker::type_of_builtin_call(const Builtin& builtin, const ast::CallExpr& call, Scope& scope) {
  // A call in the wrong place is reported once: its value is an Error, not a selection or number.
  bool misplaced = false;
  if (builtin.kind == BuiltinKind::Selection && scope.where != Where::RuleArg) {
    sink_.report(call.span, Code::bad_selection,
                 "an unqualified match(...) only names tensors in a rule's `on` clause; elsewhere write m.match(...)");
    misplaced = true;
  }
  if (builtin.kind == BuiltinKind::Meter && scope.where != Where::Meter && scope.where != Where::Constraint) {
    sink_.report(call.span, Code::wrong_kind, builtin.name, "a meter", "a value here: meters belong in meter, budget, require and objective declarations");
    misplaced = true;
  }
  auto bound = bind_arguments(builtin.name, builtin.params, call.args, call.span, "", scope);
  for (size_t i = 0; i < bound.size(); ++i) {
    if (bound[i] == nullptr) continue;
    if (builtin.params[i].type == Type::Activation) {
      const auto* act = bound[i]->as<ast::NameExpr>();
      if (act == nullptr || !is_activation(act->name))
        sink_.report(bound[i]->span, Code::bad_argument,
                     fmt::format("act must be relu, gelu or tanh, not {}", syntax::format_expr(*bound[i])));
      continue;
    }
    expect(*bound[i], builtin.params[i].type, scope);
  }
  return misplaced ? Type::Error : builtin.result;
}

void Checker::check_grouping(const ast::Expr& over, Scope& scope) {
  if (const auto* name = over.as<ast::NameExpr>(); name && (name->name == "all" || name->name == "row")) return;
  if (const auto* call = over.as<ast::CallExpr>()) {
    const auto* callee = call->callee->as<ast::NameExpr>();
    if (callee && callee->name == "group" && call->args.size() == 1 && call->args[0].name.empty()) {
      expect(*call->args[0].value, Type::Int, scope);
      if (auto size = evaluate_constant(*call->args[0].value); size && size->type == Type::Int && size->integer < 0)
        sink_.report(call->args[0].value->span, Code::bad_argument, "a group size cannot be negative (0 means the whole row)");
      return;
    }
  }
  sink_.report(over.span, Code::bad_argument,
               fmt::format("`over` must be all, row or group(n), not {}", syntax::format_expr(over)));
}

Type Checker::type_of_kernel_function(const Builtin& builtin, const ast::CallExpr& call, Scope& scope) {
  auto bound = bind_arguments(builtin.name, builtin.params, call.args, call.span, "", scope);
  bool any_tensor = false, all_int = true;
  for (size_t i = 0; i < bound.size(); ++i) {
    if (bound[i] == nullptr) continue;
    const BuiltinParam& param = builtin.params[i];
    if (param.type == Type::Grouping) {
      check_grouping(*bound[i], scope);
      continue;
    }
    Type type = type_of(*bound[i], scope);
    if (param.type == Type::Int) {
      if (!assignable(type, Type::Int)) report_mismatch(*bound[i], "int", type);
      continue;
    }
    bool ok = type == Type::Error || type == Type::Tensor || is_dimensionless(type) ||
              (param.name == "condition" && type == Type::Bool);
    if (!ok) sink_.report(bound[i]->span, Code::type_mismatch, "a tensor or number", type_name(type));
    if (builtin.name == "quantile" && param.name == "q")
      if (auto q = evaluate_constant(*bound[i]); q && (q->number < 0 || q->number > 1))
        sink_.report(bound[i]->span, Code::bad_argument, "a quantile lies in 0..1 (0%..100%)");
    any_tensor |= type == Type::Tensor;
    all_int &= type == Type::Int;
  }
  if (builtin.result == Type::QTensor) return Type::QTensor;
  if (builtin.kind == BuiltinKind::Reduction) {
    size_t over = builtin.params.size() - 1;
    const auto* all = bound[over] ? bound[over]->as<ast::NameExpr>() : nullptr;
    bool whole = bound[over] == nullptr || (all && all->name == "all");
    return whole ? Type::Float : Type::Tensor;
  }
  if (any_tensor) return Type::Tensor;
  bool keeps_int = builtin.name == "min" || builtin.name == "max" || builtin.name == "clamp" ||
                   builtin.name == "abs" || builtin.name == "sign";
  return keeps_int && all_int ? Type::Int : Type::Float;
}

bool Checker::mentions_meter(const ast::Expr& expr) const {
  switch (expr.kind) {
    case ast::ExprKind::Name: {
      const Symbol* symbol = lookup(expr.as<ast::NameExpr>()->name);
      return symbol && symbol->kind == SymbolKind::Meter;
    }
    case ast::ExprKind::Call: {
      const auto& call = *expr.as<ast::CallExpr>();
      const auto* name = call.callee->as<ast::NameExpr>();
      if (name && find_builtin(name->name, {BuiltinKind::Meter}, options_.host_meters) && !lookup(name->name))
        return true;
      for (const auto& arg : call.args)
        if (mentions_meter(*arg.value)) return true;
      return false;
    }
    case ast::ExprKind::Unary: return mentions_meter(*expr.as<ast::UnaryExpr>()->operand);
    case ast::ExprKind::Binary: {
      const auto& binary = *expr.as<ast::BinaryExpr>();
      return mentions_meter(*binary.lhs) || mentions_meter(*binary.rhs);
    }
    default: return false;
  }
}

}  // namespace kmr::sema
