// Checks of top-level declarations: knobs and their domains, rules, pipelines, meters,
// budgets, requirements, objectives and outputs; then dependency cycles and unused names.
#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "compiler/sema/checker_internal.h"
#include "compiler/sema/resource_probe.h"
#include "compiler/syntax/formatter.h"

namespace kmr::sema {
namespace {

using diag::Code;

// Flattens `a |> b |> c` into [a, b, c].
void flatten_pipe(const ast::Expr& expr, std::vector<const ast::Expr*>& out) {
  if (const auto* binary = expr.as<ast::BinaryExpr>(); binary && binary->op == ast::BinaryOp::Pipe) {
    flatten_pipe(*binary->lhs, out);
    flatten_pipe(*binary->rhs, out);
    return;
  }
  out.push_back(&expr);
}

std::string domain_text(const ast::Domain& domain) {
  if (domain.kind == ast::Domain::Kind::Set) {
    std::string out = "{";
    for (size_t i = 0; i < domain.values.size(); ++i)
      out += (i > 0 ? ", " : "") + syntax::format_expr(*domain.values[i]);
    return out + "}";
  }
  std::string out = fmt::format("[{}, {}]", syntax::format_expr(*domain.lo), syntax::format_expr(*domain.hi));
  if (domain.step) out += " step " + syntax::format_expr(*domain.step);
  return out;
}

// Whether (value - lo) is a whole number of steps, allowing float rounding.
bool on_grid(double value, double lo, double step) {
  double k = (value - lo) / step;
  return std::fabs(k - std::round(k)) <= 1e-9 * std::max(1.0, std::fabs(k));
}

}  // namespace

const char* symbol_kind_phrase(SymbolKind kind) {
  switch (kind) {
    case SymbolKind::Model: return "a model";
    case SymbolKind::Data: return "a data set";
    case SymbolKind::Knob: return "a knob";
    case SymbolKind::Rule: return "a rule";
    case SymbolKind::Kernel: return "a kernel";
    case SymbolKind::Pipeline: return "a pipeline";
    case SymbolKind::Meter: return "a meter";
    case SymbolKind::Policy: return "a policy";
  }
  return "a name";
}

CheckedProgram check_program(const std::vector<const ast::Module*>& modules, const source::SourceManager& sources,
                             diag::DiagnosticSink& sink, const CheckOptions& options) {
  return Checker(sources, sink, options).run(modules);
}

CheckedProgram Checker::run(const std::vector<const ast::Module*>& modules) {
  for (const auto* module : modules)
    for (const auto& decl : module->decls) collect(*decl);
  check_host_bindings();
  // Models, data and knobs first: rules and meters consult the tensors and knob families
  // they establish, wherever those are declared.
  auto establishes = [](const ast::Decl& decl) {
    return decl.kind == ast::DeclKind::Model || decl.kind == ast::DeclKind::Data || decl.kind == ast::DeclKind::Knob;
  };
  for (bool first_pass : {true, false})
    for (const auto* module : modules)
      for (const auto& decl : module->decls)
        if (establishes(*decl) == first_pass) check_decl(*decl);
  check_cycles();
  warn_unused();
  return std::move(program_);
}

std::string Checker::where_defined(const source::Span& span) const {
  if (span.file >= sources_.size()) return "another place";
  return fmt::format("{}:{}:{}", sources_.file(span.file).path, span.line, span.col);
}

void Checker::collect(const ast::Decl& decl) {
  std::optional<SymbolKind> kind;
  Type type = Type::Error;
  switch (decl.kind) {
    case ast::DeclKind::Model: kind = SymbolKind::Model; type = Type::Model; break;
    case ast::DeclKind::Data: kind = SymbolKind::Data; type = Type::Data; break;
    case ast::DeclKind::Pipeline: kind = SymbolKind::Pipeline; type = Type::Model; break;
    case ast::DeclKind::Rule: kind = SymbolKind::Rule; break;
    case ast::DeclKind::Kernel: kind = SymbolKind::Kernel; break;
    case ast::DeclKind::Policy: kind = SymbolKind::Policy; break;
    case ast::DeclKind::Knob:
      kind = SymbolKind::Knob;
      type = type_from_name(static_cast<const ast::KnobDecl&>(decl).type.name).value_or(Type::Error);
      // A knob or meter of a type it cannot have is reported once, at its declaration.
      if (type != Type::Int && type != Type::Float && type != Type::Ratio && type != Type::Bool) type = Type::Error;
      break;
    case ast::DeclKind::Meter:
      kind = SymbolKind::Meter;
      type = type_from_name(static_cast<const ast::MeterDecl&>(decl).type.name).value_or(Type::Error);
      if (!is_numeric(type)) type = Type::Error;
      break;
    default: return;
  }
  auto [it, inserted] = program_.symbols.emplace(decl.name, Symbol{*kind, &decl, type});
  if (inserted) return;
  // A name the script shares with a module it imports is the script's mistake: report it in
  // the script (the root file, collected first), not inside the module.
  const ast::Decl& first = *it->second.decl;
  bool in_script = first.span.file == 0 && decl.span.file != 0;
  const ast::Decl& at = in_script ? first : decl;
  const ast::Decl& other = in_script ? decl : first;
  sink_.report(at.name_span, Code::duplicate_name, decl.name, where_defined(other.name_span));
}

// What an embedding application adds must fit the program: its meters may not take a
// name the prelude or the program defines, and each binding names a declaration.
void Checker::check_host_bindings() {
  program_.host_meters = options_.host_meters;
  for (const auto& meter : options_.host_meters) {
    if (find_builtin(meter.name, {BuiltinKind::Source, BuiltinKind::Arch, BuiltinKind::Meter, BuiltinKind::Selection}))
      sink_.report(source::Span{}, Code::duplicate_name, meter.name, "the prelude, so the application cannot add it as a meter");
    else if (const Symbol* symbol = lookup(meter.name))
      sink_.report(symbol->decl->name_span, Code::duplicate_name, meter.name, "the embedding application (a host meter)");
  }
  auto check_bound = [&](const std::string& name, SymbolKind kind, const char* keyword) {
    const Symbol* symbol = lookup(name);
    if (symbol == nullptr || symbol->kind != kind)
      sink_.add(source::Span{}, Code::undefined_name,
                fmt::format("the application binds {} '{}', but the program declares no `{} {} = ...;`",
                            keyword, name, keyword, name));
  };
  for (const auto& entry : options_.bound_models) check_bound(entry.first, SymbolKind::Model, "model");
  for (const auto& name : options_.bound_data) check_bound(name, SymbolKind::Data, "data");
}

void Checker::check_decl(const ast::Decl& decl) {
  switch (decl.kind) {
    case ast::DeclKind::Import: return;  // resolved by the module loader
    case ast::DeclKind::Model:
    case ast::DeclKind::Data: return check_model_or_data(static_cast<const ast::ValueDecl&>(decl));
    case ast::DeclKind::Knob: return check_knob(static_cast<const ast::KnobDecl&>(decl));
    case ast::DeclKind::Rule: return check_rule(static_cast<const ast::RuleDecl&>(decl));
    case ast::DeclKind::Kernel: return check_kernel(static_cast<const ast::KernelDecl&>(decl));
    case ast::DeclKind::Pipeline: return check_pipeline(static_cast<const ast::ValueDecl&>(decl));
    case ast::DeclKind::Meter: return check_meter(static_cast<const ast::MeterDecl&>(decl));
    case ast::DeclKind::Budget:
    case ast::DeclKind::Require:
    case ast::DeclKind::Objective: return check_constraint(static_cast<const ast::ConstraintDecl&>(decl));
    case ast::DeclKind::Policy: return check_policy(static_cast<const ast::PolicyDecl&>(decl));
    case ast::DeclKind::Save:
    case ast::DeclKind::Report: return check_output(static_cast<const ast::OutputDecl&>(decl));
  }
}

// model m = load(...);  data d = fashion_mnist(...);
void Checker::check_model_or_data(const ast::ValueDecl& decl) {
  Scope scope;
  scope.frames.emplace_back();
  Type wanted = decl.kind == ast::DeclKind::Model ? Type::Model : Type::Data;
  Type type = type_of(*decl.value, scope);
  if (!assignable(type, wanted)) {
    report_mismatch(*decl.value, type_name(wanted), type);
    return;
  }
  const auto* call = decl.value->as<ast::CallExpr>();
  if (!options_.probe_files || call == nullptr || sink_.has_errors()) return;
  if (wanted == Type::Model) {
    auto bound = options_.bound_models.find(decl.name);
    if (auto facts = probe_model(*call, sink_, bound == options_.bound_models.end() ? nullptr : &bound->second))
      program_.models[decl.name] = std::move(*facts);
  } else if (!options_.bound_data.count(decl.name)) {
    probe_data(*call, sink_);
  }
}

void Checker::check_knob(const ast::KnobDecl& knob) {
  Scope scope;
  scope.frames.emplace_back();
  auto type = type_from_name(knob.type.name);
  bool knob_type = type && (*type == Type::Int || *type == Type::Float || *type == Type::Ratio || *type == Type::Bool);
  if (!knob_type) {
    sink_.report(knob.type.span, Code::bad_domain,
                 fmt::format("a knob is an int, float, ratio or bool, not '{}'", knob.type.name));
    return;
  }
  if (knob.index_selection) {
    if (expect(*knob.index_selection, Type::Selection, scope) == Type::Selection) {
      if (auto index = selection_index(*knob.index_selection)) families_[knob.name] = *index;
      else
        sink_.report(knob.index_selection->span, Code::bad_selection,
                     "a knob family is indexed by the tensors of a named model: `m.match(\"glob\")`");
    }
  }
  check_domain(knob, *type);
}

void Checker::check_domain(const ast::KnobDecl& knob, Type type) {
  Scope scope;
  scope.frames.emplace_back();
  const ast::Domain& domain = knob.domain;
  size_t errors = sink_.error_count();
  // A domain is made of constants of the knob's type.
  auto constant = [&](const ast::Expr& expr) -> std::optional<Value> {
    Type t = type_of(expr, scope);
    if (t == Type::Error) return std::nullopt;
    if (!assignable(t, type)) {
      report_mismatch(expr, fmt::format("{} (the knob's type)", type_name(type)), t);
      return std::nullopt;
    }
    auto value = evaluate_constant(expr);
    if (!value) sink_.report(expr.span, Code::bad_domain, "a knob's domain and default must be constants");
    return value;
  };
  std::vector<double> values;
  std::optional<Value> lo, hi, step;
  if (domain.kind == ast::Domain::Kind::None) {
    if (type != Type::Bool) {
      sink_.report(knob.name_span, Code::bad_domain,
                   fmt::format("knob '{}' needs a domain: `in [lo, hi] step s` or `in {{a, b, ...}}`", knob.name));
      return;
    }
  } else if (type == Type::Bool) {
    sink_.report(domain.span, Code::bad_domain, "a bool knob takes no domain: it is false or true");
    return;
  } else if (domain.kind == ast::Domain::Kind::Set) {
    for (const auto& expr : domain.values) {
      auto value = constant(*expr);
      if (!value) continue;
      if (std::find(values.begin(), values.end(), value->number) != values.end())
        sink_.report(expr->span, Code::bad_domain, fmt::format("{} is listed twice in the domain", describe(*value)));
      values.push_back(value->number);
    }
  } else {
    lo = constant(*domain.lo);
    hi = constant(*domain.hi);
    if (domain.step) step = constant(*domain.step);
    if (lo && hi && lo->number > hi->number)
      sink_.report(domain.span, Code::bad_domain,
                   fmt::format("empty domain: {} is greater than {}", describe(*lo), describe(*hi)));
    else if (step && step->number <= 0)
      sink_.report(domain.step->span, Code::bad_domain, "a domain's step must be positive");
    else if (lo && hi && step && !on_grid(hi->number, lo->number, step->number))
      sink_.report(domain.step->span, Code::step_mismatch, syntax::format_expr(*domain.step),
                   syntax::format_expr(*domain.lo), syntax::format_expr(*domain.hi), knob.name);
    else if (type == Type::Int && lo && hi && !step && hi->number - lo->number > 1e6)
      sink_.report(domain.span, Code::bad_domain, "an int range wider than 1,000,000 values needs a step");
  }
  if (!knob.default_value || sink_.error_count() > errors) return;
  auto value = constant(*knob.default_value);
  if (!value || sink_.error_count() > errors) return;  // the default itself was reported (101%)
  bool inside = true;
  if (domain.kind == ast::Domain::Kind::Set)
    inside = std::find(values.begin(), values.end(), value->number) != values.end();
  else if (lo && hi)
    inside = value->number >= lo->number && value->number <= hi->number &&
             (!step || on_grid(value->number, lo->number, step->number));
  if (!inside)
    sink_.report(knob.default_value->span, Code::default_outside_domain, syntax::format_expr(*knob.default_value),
                 domain_text(domain), knob.name);
}

std::optional<FamilyIndex> Checker::selection_index(const ast::Expr& selection) {
  const auto* call = selection.as<ast::CallExpr>();
  const auto* member = call ? call->callee->as<ast::MemberExpr>() : nullptr;
  const auto* model = member ? member->object->as<ast::NameExpr>() : nullptr;
  if (model == nullptr || call->args.size() != 1) return std::nullopt;
  auto glob = evaluate_constant(*call->args[0].value);
  if (!glob || glob->type != Type::String) return std::nullopt;
  const Symbol* symbol = lookup(model->name);
  if (symbol && symbol->kind == SymbolKind::Model) {
    auto facts = program_.models.find(model->name);
    if (facts != program_.models.end() &&
        std::none_of(facts->second.tensors.begin(), facts->second.tensors.end(),
                     [&](const std::string& tensor) { return glob_matches(glob->text, tensor); })) {
      std::string names;
      for (const auto& t : facts->second.tensors) names += (names.empty() ? "" : ", ") + t;
      sink_.report(selection.span, Code::bad_selection,
                   fmt::format("\"{}\" matches no tensor of '{}' (it has {})", glob->text, model->name, names));
    }
  }
  return FamilyIndex{model->name, glob->text};
}

// rule r = kernel(args) on selection;
void Checker::check_rule(const ast::RuleDecl& rule) {
  Scope scope{Where::RuleArg, nullptr, {{}}};
  const auto* call = rule.call->as<ast::CallExpr>();
  const auto* callee = call ? call->callee->as<ast::NameExpr>() : nullptr;
  if (callee == nullptr) {
    sink_.report(rule.call->span, Code::bad_rule, "a rule calls a kernel: `rule r = kernel(args) on m.match(\"glob\");`");
    return;
  }
  const Symbol* symbol = lookup(callee->name);
  const ast::KernelDecl* kernel = symbol && symbol->kind == SymbolKind::Kernel
                                      ? static_cast<const ast::KernelDecl*>(symbol->decl) : nullptr;
  if (kernel == nullptr) {
    if (symbol) sink_.report(callee->span, Code::wrong_kind, callee->name, symbol_kind_phrase(symbol->kind), "a kernel");
    else type_of_name(*callee, scope);
    for (const auto& arg : call->args) type_of(*arg.value, scope);
    if (rule.target) type_of(*rule.target, scope);
    return;
  }
  // The first parameter receives each selected tensor (or the whole model); arguments bind the rest.
  std::vector<BuiltinParam> params;
  for (size_t i = 1; i < kernel->params.size(); ++i) {
    const auto& p = kernel->params[i];
    params.push_back({p.name, type_from_name(p.type.name).value_or(Type::Error), p.default_value == nullptr});
  }
  bool whole_model = !kernel->params.empty() && kernel->params[0].type.name == "model";
  auto bound = bind_arguments(kernel->name, params, call->args, call->span,
                              whole_model ? " besides the model it transforms" : " besides the tensor it transforms", scope);
  if (whole_model && rule.target)
    sink_.report(rule.target->span, Code::bad_rule,
                 fmt::format("'{}' transforms the whole model: a rule using it takes no `on`", kernel->name));
  if (!whole_model && !rule.target)
    sink_.report(rule.span, Code::bad_rule,
                 fmt::format("rule '{}' needs the tensors it transforms: add `on m.match(\"glob\")`", rule.name));
  std::optional<FamilyIndex> target;
  if (rule.target && !whole_model && expect(*rule.target, Type::Selection, scope) == Type::Selection)
    target = selection_index(*rule.target);
  for (size_t i = 0; i < bound.size(); ++i) {
    if (bound[i] == nullptr) continue;
    expect(*bound[i], params[i].type, scope);
    // A knob family passes each tensor its own value: it must be indexed by the rule's tensors.
    const auto* name = bound[i]->as<ast::NameExpr>();
    auto family = name ? families_.find(name->name) : families_.end();
    if (family != families_.end() && target &&
        (target->model != family->second.model || target->glob != family->second.glob))
      sink_.report(bound[i]->span, Code::bad_selection,
                   fmt::format("knob family '{}' is indexed by {}.match(\"{}\"), but the rule targets {}", name->name,
                               family->second.model, family->second.glob, syntax::format_expr(*rule.target)));
  }
}

// pipeline p = model |> rule |> rule ...;
void Checker::check_pipeline(const ast::ValueDecl& pipeline) {
  std::vector<const ast::Expr*> stages;
  flatten_pipe(*pipeline.value, stages);
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto* name = stages[i]->as<ast::NameExpr>();
    const Symbol* symbol = name ? lookup(name->name) : nullptr;
    const char* wanted = i == 0 ? "a model or pipeline" : "a rule";
    if (name == nullptr) {
      sink_.report(stages[i]->span, Code::bad_rule,
                   fmt::format("each stage of a pipeline is a name: {} expected here", wanted));
      continue;
    }
    if (symbol == nullptr) {
      sink_.report(name->span, Code::undefined_name, name->name);
      continue;
    }
    bool ok = i == 0 ? symbol->kind == SymbolKind::Model || symbol->kind == SymbolKind::Pipeline
                     : symbol->kind == SymbolKind::Rule;
    if (!ok) sink_.report(name->span, Code::wrong_kind, name->name, symbol_kind_phrase(symbol->kind), wanted);
    if (symbol->kind == SymbolKind::Pipeline) depends_on_["pipeline " + pipeline.name].push_back("pipeline " + name->name);
    program_.types[stages[i]] = Type::Model;
  }
  program_.types[pipeline.value.get()] = Type::Model;
}

// meter m : type = expr;
void Checker::check_meter(const ast::MeterDecl& meter) {
  auto declared = type_from_name(meter.type.name);
  if (!declared || !is_numeric(*declared)) {
    sink_.report(meter.type.span, Code::type_mismatch, "a numeric meter type (int, float, ratio, bytes, flops, duration)",
                 fmt::format("'{}'", meter.type.name));
    return;
  }
  Scope scope{Where::Meter, nullptr, {{}}};
  current_decl_ = meter.name;
  Type type = type_of(*meter.value, scope);
  current_decl_.clear();
  if (!assignable(type, *declared))
    report_mismatch(*meter.value, fmt::format("{} (the meter's type)", type_name(*declared)), type);
}

void Checker::check_constraint(const ast::ConstraintDecl& constraint) {
  Scope scope{Where::Constraint, nullptr, {{}}};
  Type type = type_of(*constraint.expr, scope);
  if (type == Type::Error) return;
  const auto* binary = constraint.expr->as<ast::BinaryExpr>();
  switch (constraint.kind) {
    case ast::DeclKind::Budget: {
      bool bound = binary && (binary->op == ast::BinaryOp::Le || binary->op == ast::BinaryOp::Lt ||
                              binary->op == ast::BinaryOp::Ge || binary->op == ast::BinaryOp::Gt);
      if (!bound || !mentions_meter(*constraint.expr))
        sink_.report(constraint.expr->span, Code::bad_budget,
                     "a budget bounds a cost meter by a limit of the same unit, e.g. `budget size <= 96 KiB;`");
      return;
    }
    case ast::DeclKind::Require:
      if (type != Type::Bool)
        sink_.report(constraint.expr->span, Code::bad_requirement,
                     fmt::format("a requirement is a condition (bool), not {}", type_name(type)));
      else if (!mentions_meter(*constraint.expr))
        sink_.report(constraint.expr->span, Code::bad_requirement, "a requirement must involve a meter");
      return;
    default:
      if (first_objective_) {
        sink_.report(constraint.span, Code::bad_objective,
                     fmt::format("a script has one objective; the first is at {}", where_defined(first_objective_->span)));
        return;
      }
      first_objective_ = &constraint;
      if (!is_numeric(type))
        sink_.report(constraint.expr->span, Code::bad_objective,
                     fmt::format("an objective is a number to maximise or minimise, not {}", type_name(type)));
      else if (!mentions_meter(*constraint.expr))
        sink_.report(constraint.expr->span, Code::bad_objective, "an objective must involve a meter");
  }
}

void Checker::check_output(const ast::OutputDecl& output) {
  if (output.path.empty()) sink_.report(output.path_span, Code::bad_output, "the output path is empty");
  if (output.kind == ast::DeclKind::Report) {
    if (first_report_)
      sink_.report(output.span, Code::bad_output,
                   fmt::format("a script has one report; the first is at {}", where_defined(first_report_->span)));
    first_report_ = &output;
    return;
  }
  Scope scope;
  scope.frames.emplace_back();
  expect(*output.model, Type::Model, scope);
  auto [it, inserted] = saves_.emplace(output.path, &output);
  if (!inserted)
    sink_.report(output.path_span, Code::bad_output,
                 fmt::format("\"{}\" is already written by the save at {}", output.path, where_defined(it->second->span)));
}

void Checker::check_cycles() {
  // Depth-first search over the recorded dependencies; each cycle is reported once, at the
  // declaration where the search closes it.
  std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
  std::vector<std::string> stack;
  std::function<void(const std::string&)> visit = [&](const std::string& node) {
    state[node] = 1;
    stack.push_back(node);
    for (const auto& next : depends_on_[node]) {
      if (state[next] == 1) {
        auto start = std::find(stack.begin(), stack.end(), next);
        std::string path;
        for (auto it = start; it != stack.end(); ++it) path += it->substr(it->find(' ') + 1) + " -> ";
        path += next.substr(next.find(' ') + 1);
        std::string kind = next.substr(0, next.find(' '));
        std::string name = next.substr(next.find(' ') + 1);
        const Symbol* symbol = lookup(name);
        sink_.report(symbol ? symbol->decl->name_span : source::Span{}, Code::dependency_cycle, kind, name, path);
      } else if (state[next] == 0) {
        visit(next);
      }
    }
    stack.pop_back();
    state[node] = 2;
  };
  // Meters record plain names; give them the same "kind name" form as the rest.
  std::map<std::string, std::vector<std::string>> normalised;
  for (auto& [node, nexts] : depends_on_) {
    std::string from = node.find(' ') == std::string::npos ? "meter " + node : node;
    for (auto& next : nexts) normalised[from].push_back(next.find(' ') == std::string::npos ? "meter " + next : next);
  }
  depends_on_ = std::move(normalised);
  for (const auto& entry : depends_on_)
    if (state[entry.first] == 0) visit(entry.first);
}

void Checker::warn_unused() {
  for (const auto& [name, symbol] : program_.symbols) {
    if (symbol.decl->span.file != 0) continue;  // names from imported modules are a library
    if (symbol.kind == SymbolKind::Knob && !used_knobs_.count(name))
      sink_.report(symbol.decl->name_span, Code::unused_knob, name);
    if (symbol.kind == SymbolKind::Meter && !used_meters_.count(name))
      sink_.report(symbol.decl->name_span, Code::unused_meter, name);
  }
}

}  // namespace kmr::sema
