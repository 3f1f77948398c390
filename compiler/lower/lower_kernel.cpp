// Entry points of lowering: a kernel declaration, and a pipeline fused step by step.
#include "compiler/lower/lower_kernel.h"

#include <fmt/format.h>

#include "compiler/lower/lowerer.h"
#include "compiler/sema/const_eval.h"
#include "compiler/syntax/formatter.h"

namespace kmr::lower {
namespace {

using kir::NodeRef;

bool fill_result(kir::Kernel& kernel, Yielded yielded) {
  kernel.result = yielded.kind;
  kernel.value = std::move(yielded.value);
  kernel.q = std::move(yielded.q);
  kernel.scale = std::move(yielded.scale);
  kernel.zero = std::move(yielded.zero);
  kernel.bits = std::move(yielded.bits);
  kernel.measures = std::move(yielded.measures);
  return true;
}

struct RuleStep {
  const ast::RuleDecl* rule = nullptr;
  const ast::KernelDecl* kernel = nullptr;
  const ast::CallExpr* call = nullptr;
};

// Flattens `m |> r1 |> r2` (left-associative), expanding names of other pipelines.
bool flatten(const sema::CheckedProgram& program, const ast::Expr& e, std::vector<const ast::NameExpr*>& rules,
             diag::DiagnosticSink& sink, int depth) {
  if (depth > 64) {
    sink.report(e.span, diag::Code::bad_rule, "pipelines nest too deeply");
    return false;
  }
  if (const auto* binary = e.as<ast::BinaryExpr>(); binary && binary->op == ast::BinaryOp::Pipe)
    return flatten(program, *binary->lhs, rules, sink, depth + 1) && flatten(program, *binary->rhs, rules, sink, depth + 1);
  const auto* name = e.as<ast::NameExpr>();
  if (!name) {
    sink.report(e.span, diag::Code::bad_rule, "a pipeline composes a model and rules by name");
    return false;
  }
  auto it = program.symbols.find(name->name);
  if (it != program.symbols.end() && it->second.kind == sema::SymbolKind::Pipeline)
    return flatten(program, *static_cast<const ast::ValueDecl&>(*it->second.decl).value, rules, sink, depth + 1);
  if (it != program.symbols.end() && it->second.kind == sema::SymbolKind::Rule) rules.push_back(name);
  return true;  // the model at the head of the pipeline
}

std::string selection_text(const ast::RuleDecl& rule) {
  return rule.target ? syntax::format_expr(*rule.target) : std::string();
}

}  // namespace

std::optional<kir::Kernel> lower_kernel(const sema::CheckedProgram& program, const ast::KernelDecl& decl,
                                        diag::DiagnosticSink& sink) {
  kir::Kernel kernel;
  kernel.name = decl.name;
  kernel.source = "kernel " + decl.name;
  Lowerer lowerer(program, sink, kernel);
  if (decl.is_native || decl.params.empty()) {
    lowerer.fail(decl.name_span, fmt::format("kernel '{}' has no KMR body to lower", decl.name));
    return std::nullopt;
  }
  std::vector<NodeRef> args{kir::make_input()};
  for (size_t i = 1; i < decl.params.size(); ++i) {
    const auto& param = decl.params[i];
    double value = 0;
    if (param.default_value)
      if (auto constant = sema::evaluate_constant(*param.default_value)) value = constant->number;
    int index = lowerer.param_index(param.name, param.type.name, value);
    args.push_back(lowerer.check(kir::make_param(index, param.name), param.name_span));
  }
  auto yielded = lowerer.inline_kernel(decl, args, "", decl.name_span);
  if (!yielded || lowerer.failed()) return std::nullopt;
  fill_result(kernel, std::move(*yielded));
  return kernel;
}

std::optional<std::vector<PipelineStep>> lower_pipeline(const sema::CheckedProgram& program,
                                                        const ast::ValueDecl& pipeline, diag::DiagnosticSink& sink) {
  std::vector<const ast::NameExpr*> names;
  if (!pipeline.value || !flatten(program, *pipeline.value, names, sink, 0)) return std::nullopt;
  std::vector<RuleStep> rules;
  for (const auto* name : names) {
    RuleStep step;
    step.rule = static_cast<const ast::RuleDecl*>(program.symbols.at(name->name).decl);
    step.call = step.rule->call ? step.rule->call->as<ast::CallExpr>() : nullptr;
    const auto* callee = step.call ? step.call->callee->as<ast::NameExpr>() : nullptr;
    auto it = callee ? program.symbols.find(callee->name) : program.symbols.end();
    if (it == program.symbols.end() || it->second.kind != sema::SymbolKind::Kernel) {
      sink.report(step.rule->span, diag::Code::bad_rule, fmt::format("rule '{}' does not call a kernel", step.rule->name));
      return std::nullopt;
    }
    step.kernel = static_cast<const ast::KernelDecl*>(it->second.decl);
    rules.push_back(step);
  }
  std::vector<PipelineStep> steps;
  size_t i = 0;
  while (i < rules.size()) {
    if (rules[i].kernel->is_native) {
      steps.push_back({{rules[i].rule->name}, std::nullopt, rules[i].kernel->name});
      ++i;
      continue;
    }
    // The longest run of KMR kernels on one selection, ending at the first quantized result.
    size_t end = i + 1;
    auto yields_codes = [](const ast::KernelDecl& k) { return k.result.name == "qtensor"; };
    while (end < rules.size() && !rules[end].kernel->is_native && !yields_codes(*rules[end - 1].kernel) &&
           selection_text(*rules[end].rule) == selection_text(*rules[i].rule))
      ++end;
    PipelineStep step;
    kir::Kernel kernel;
    for (size_t r = i; r < end; ++r) step.rules.push_back(rules[r].rule->name);
    std::string joined;
    for (const auto& rule : step.rules) joined += (joined.empty() ? "" : "|>") + rule;
    kernel.name = pipeline.name + ":" + joined;
    kernel.source = fmt::format("pipeline {}, rules {} on {}", pipeline.name, joined, selection_text(*rules[i].rule));
    Lowerer lowerer(program, sink, kernel);
    NodeRef current = kir::make_input();
    Yielded last;
    for (size_t r = i; r < end; ++r) {
      auto args = lowerer.bind_call(*rules[r].kernel, rules[r].call->args, 1, nullptr, rules[r].call->span);
      if (!args) return std::nullopt;
      (*args)[0] = current;
      auto yielded = lowerer.inline_kernel(*rules[r].kernel, *args, rules[r].rule->name, rules[r].rule->span);
      if (!yielded) return std::nullopt;
      auto measures = std::move(last.measures);
      measures.insert(measures.end(), yielded->measures.begin(), yielded->measures.end());
      last = std::move(*yielded);
      last.measures = std::move(measures);
      current = last.value;
    }
    if (lowerer.failed()) return std::nullopt;
    fill_result(kernel, std::move(last));
    step.kernel = std::move(kernel);
    steps.push_back(std::move(step));
    i = end;
  }
  return steps;
}

}  // namespace kmr::lower

namespace kmr::lower {

std::vector<kir::Kernel> lower_module_kernels(const sema::CheckedProgram& program, const ast::Module& module,
                                              diag::DiagnosticSink& sink) {
  std::vector<kir::Kernel> out;
  for (const auto& decl : module.decls) {
    if (const auto* kernel = decl->as<ast::KernelDecl>(); kernel && !kernel->is_native) {
      if (auto lowered = lower_kernel(program, *kernel, sink)) out.push_back(std::move(*lowered));
    } else if (decl->kind == ast::DeclKind::Pipeline) {
      if (auto steps = lower_pipeline(program, static_cast<const ast::ValueDecl&>(*decl), sink))
        for (auto& step : *steps)
          if (step.kernel) out.push_back(std::move(*step.kernel));
    }
  }
  return out;
}

}  // namespace kmr::lower
