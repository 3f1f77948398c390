// Checks of policies: built-in policies' arguments, and scripted policies, which may only
// read knobs and meters and change knobs with `set` and `step`.
#include <fmt/format.h>

#include "compiler/sema/checker_internal.h"
#include "compiler/syntax/formatter.h"

namespace kmr::sema {
namespace {
using diag::Code;
}  // namespace

void Checker::check_policy(const ast::PolicyDecl& policy) {
  if (first_policy_) {
    sink_.report(policy.name_span, Code::bad_policy,
                 fmt::format("a script has one policy; the first is at {}", where_defined(first_policy_->name_span)));
    return;
  }
  first_policy_ = &policy;
  Scope scope{Where::Policy, nullptr, {{}}};
  if (policy.is_scripted) {
    check_policy_block(policy.body, scope);
    return;
  }
  const Builtin* builtin = find_builtin_policy(policy.name);
  if (builtin == nullptr) {
    sink_.report(policy.name_span, Code::bad_policy,
                 fmt::format("unknown policy '{}' (built-in: {}); write your own as `policy {} {{ ... }}`", policy.name,
                             builtin_policy_names(), policy.name));
    return;
  }
  auto bound = bind_arguments(builtin->name, builtin->params, policy.args, policy.span, "", scope);
  for (size_t i = 0; i < bound.size(); ++i) {
    if (bound[i] == nullptr) continue;
    const BuiltinParam& param = builtin->params[i];
    if (param.name == "knob") {
      const auto* name = bound[i]->as<ast::NameExpr>();
      const Symbol* symbol = name ? lookup(name->name) : nullptr;
      if (symbol == nullptr || symbol->kind != SymbolKind::Knob)
        sink_.report(bound[i]->span, Code::bad_policy, "bisect's `knob` names the knob to search");
      else
        used_knobs_.insert(name->name);
      continue;
    }
    expect(*bound[i], param.type, scope);
    auto value = evaluate_constant(*bound[i]);
    if (value && value->number <= 0)
      sink_.report(bound[i]->span, Code::bad_policy, fmt::format("{} must be positive", param.name));
  }
}

void Checker::check_policy_block(const ast::Block& block, Scope& scope) {
  scope.frames.emplace_back();
  for (const auto& stmt : block) check_policy_stmt(*stmt, scope);
  scope.frames.pop_back();
}

const Symbol* Checker::knob_for_update(const std::string& name, const source::Span& span) {
  const Symbol* symbol = lookup(name);
  if (symbol == nullptr) {
    sink_.report(span, Code::undefined_name, name);
    return nullptr;
  }
  if (symbol->kind != SymbolKind::Knob) {
    sink_.report(span, Code::wrong_kind, name, symbol_kind_phrase(symbol->kind), "a knob (a policy changes only knobs)");
    return nullptr;
  }
  used_knobs_.insert(name);
  return symbol;
}

void Checker::check_policy_stmt(const ast::Stmt& stmt, Scope& scope) {
  switch (stmt.kind) {
    case ast::StmtKind::Let: {
      const auto& let = static_cast<const ast::BindStmt&>(stmt);
      define_local(scope, let.name, Local{type_of(*let.value, scope), let.name_span});
      return;
    }
    case ast::StmtKind::Set: {
      const auto& set = static_cast<const ast::BindStmt&>(stmt);
      Type value = type_of(*set.value, scope);
      if (const Symbol* knob = knob_for_update(set.name, set.name_span))
        if (!assignable(value, knob->type))
          report_mismatch(*set.value, fmt::format("{} (the type of knob '{}')", type_name(knob->type), set.name), value);
      return;
    }
    case ast::StmtKind::Step: {
      const auto& step = static_cast<const ast::StepStmt&>(stmt);
      Type amount = type_of(*step.amount, scope);
      if (const Symbol* knob = knob_for_update(step.name, step.name_span)) {
        bool ok = knob->type == Type::Ratio ? (amount == Type::Ratio || amount == Type::Float)
                                            : assignable(amount, knob->type);
        if (knob->type == Type::Bool)
          sink_.report(step.name_span, Code::wrong_kind, step.name, "a bool knob",
                       "an int, float or ratio knob (`step` moves a number; `set` a bool knob)");
        else if (!ok && amount != Type::Error)
          report_mismatch(*step.amount, fmt::format("a step for knob '{}' of type {}", step.name, type_name(knob->type)),
                          amount);
      }
      return;
    }
    case ast::StmtKind::If: {
      const auto& branch = static_cast<const ast::IfStmt&>(stmt);
      expect(*branch.condition, Type::Bool, scope);
      check_policy_block(branch.then_block, scope);
      check_policy_block(branch.else_block, scope);
      return;
    }
    case ast::StmtKind::While: {
      const auto& loop = static_cast<const ast::WhileStmt&>(stmt);
      expect(*loop.condition, Type::Bool, scope);
      check_policy_block(loop.body, scope);
      return;
    }
    case ast::StmtKind::For: {
      const auto& loop = static_cast<const ast::ForStmt&>(stmt);
      Type iterable = type_of(*loop.iterable, scope);
      Type element = Type::Error;
      if (iterable != Type::List && iterable != Type::Error)
        sink_.report(loop.iterable->span, Code::type_mismatch, "a list", type_name(iterable));
      if (const auto* list = loop.iterable->as<ast::ListExpr>(); list && !list->elements.empty())
        element = program_.types[list->elements.front().get()];
      scope.frames.emplace_back();
      define_local(scope, loop.var, Local{element, loop.var_span});
      check_policy_block(loop.body, scope);
      scope.frames.pop_back();
      return;
    }
    case ast::StmtKind::Accept:
    case ast::StmtKind::Reject: return;
    case ast::StmtKind::Yield:
    case ast::StmtKind::Measure:
      sink_.report(stmt.span, Code::statement_not_allowed, stmt.kind == ast::StmtKind::Yield ? "yield" : "measure",
                   "a policy (a policy reads meters with measure(m) and changes knobs with set and step)");
      return;
  }
}

}  // namespace kmr::sema
