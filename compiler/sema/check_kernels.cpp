// Checks of kernel declarations: parameters, the statements a kernel body may hold, and
// that every path through the body yields a value of the declared result type.
#include <fmt/format.h>

#include "compiler/sema/checker_internal.h"

namespace kmr::sema {
namespace {

using diag::Code;

const char* statement_keyword(ast::StmtKind kind) {
  switch (kind) {
    case ast::StmtKind::Let: return "let";
    case ast::StmtKind::Set: return "set";
    case ast::StmtKind::Step: return "step";
    case ast::StmtKind::If: return "if";
    case ast::StmtKind::While: return "while";
    case ast::StmtKind::For: return "for";
    case ast::StmtKind::Accept: return "accept";
    case ast::StmtKind::Reject: return "reject";
    case ast::StmtKind::Yield: return "yield";
    case ast::StmtKind::Measure: return "measure";
  }
  return "?";
}

}  // namespace

void Checker::check_kernel(const ast::KernelDecl& kernel) {
  Scope scope{Where::Kernel, &kernel, {{}}};
  for (size_t i = 0; i < kernel.params.size(); ++i) {
    const auto& param = kernel.params[i];
    auto type = type_from_name(param.type.name);
    if (!type) {
      sink_.report(param.type.span, Code::bad_kernel, fmt::format("unknown type '{}'", param.type.name));
      type = Type::Error;
    }
    if (i == 0 && *type != Type::Tensor && !(kernel.is_native && *type == Type::Model))
      sink_.report(param.name_span, Code::bad_kernel,
                   fmt::format("a kernel's first parameter is the tensor it transforms (`{}: tensor`)", param.name));
    if (param.default_value) {
      Scope globals;
      globals.frames.emplace_back();
      Type given = type_of(*param.default_value, globals);
      if (!assignable(given, *type))
        report_mismatch(*param.default_value, type_name(*type), given);
      else if (!evaluate_constant(*param.default_value))
        sink_.report(param.default_value->span, Code::bad_kernel, "a parameter's default must be a constant");
    }
    define_local(scope, param.name, Local{*type, param.name_span});
  }
  if (kernel.params.empty())
    sink_.report(kernel.name_span, Code::bad_kernel,
                 fmt::format("kernel '{}' needs a first parameter: the tensor it transforms", kernel.name));
  auto result = type_from_name(kernel.result.name);
  bool result_ok = result && (*result == Type::Tensor || *result == Type::QTensor ||
                              (kernel.is_native && *result == Type::Model));
  if (!result_ok)
    sink_.report(kernel.result.span, Code::bad_kernel,
                 fmt::format("a kernel returns tensor or qtensor, not '{}'", kernel.result.name));
  if (kernel.is_native) {
    if (!kernel.body.empty())
      sink_.report(kernel.name_span, Code::bad_kernel, "a native kernel is implemented in C++ and has no body");
    return;
  }
  std::set<std::string> measures;
  scope.frames.emplace_back();
  for (const auto& stmt : kernel.body) check_kernel_stmt(*stmt, scope, measures);
  if (!always_yields(kernel.body)) sink_.report(kernel.name_span, Code::missing_yield, kernel.name);
}

void Checker::check_kernel_stmt(const ast::Stmt& stmt, Scope& scope, std::set<std::string>& measures) {
  switch (stmt.kind) {
    case ast::StmtKind::Let: {
      const auto& let = static_cast<const ast::BindStmt&>(stmt);
      Type type = type_of(*let.value, scope);
      if (type == Type::QTensor)
        sink_.report(let.value->span, Code::bad_kernel, "a quantized(...) value can only be yielded");
      define_local(scope, let.name, Local{type, let.name_span});
      return;
    }
    case ast::StmtKind::Measure: {
      const auto& measure = static_cast<const ast::BindStmt&>(stmt);
      Type type = type_of(*measure.value, scope);
      if (type != Type::Error && !is_dimensionless(type))
        sink_.report(measure.value->span, Code::bad_kernel,
                     fmt::format("a measure is one number per tensor (reduce with over = all), not {}", type_name(type)));
      if (!measures.insert(measure.name).second)
        sink_.report(measure.name_span, Code::duplicate_name, measure.name, "an earlier measure of this kernel");
      return;
    }
    case ast::StmtKind::Yield: {
      const auto& yield = static_cast<const ast::SimpleStmt&>(stmt);
      Type type = type_of(*yield.value, scope);
      Type wanted = type_from_name(scope.kernel->result.name).value_or(Type::Error);
      if (wanted != Type::Tensor && wanted != Type::QTensor) return;  // a bad result type is reported once, at it
      // A number broadcasts to every element, so it yields as a tensor.
      if (wanted == Type::Tensor && is_dimensionless(type)) return;
      if (!assignable(type, wanted))
        report_mismatch(*yield.value, fmt::format("{} (the kernel's result type)", type_name(wanted)), type);
      return;
    }
    case ast::StmtKind::If: {
      const auto& branch = static_cast<const ast::IfStmt&>(stmt);
      Type condition = type_of(*branch.condition, scope);
      if (condition == Type::Tensor)
        sink_.report(branch.condition->span, Code::bad_kernel,
                     "a kernel branches on its parameters, not on weights: choose per element with select(mask, a, b)");
      else if (!assignable(condition, Type::Bool))
        sink_.report(branch.condition->span, Code::type_mismatch, "bool", type_name(condition));
      for (const auto* block : {&branch.then_block, &branch.else_block}) {
        scope.frames.emplace_back();
        for (const auto& inner : *block) check_kernel_stmt(*inner, scope, measures);
        scope.frames.pop_back();
      }
      return;
    }
    default:
      sink_.report(stmt.span, Code::statement_not_allowed, statement_keyword(stmt.kind),
                   "a kernel (kernels hold let, measure, if and yield)");
  }
}

bool Checker::always_yields(const ast::Block& block) const {
  for (const auto& stmt : block) {
    if (stmt->kind == ast::StmtKind::Yield) return true;
    if (const auto* branch = stmt->as<ast::IfStmt>())
      if (branch->has_else && always_yields(branch->then_block) && always_yields(branch->else_block)) return true;
  }
  return false;
}

}  // namespace kmr::sema
