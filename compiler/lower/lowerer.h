// The lowering engine shared by lower_kernel and fuse_pipelines: expressions, statements
// and inlined kernel calls of the checked AST turned into KIR nodes of one kernel.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "compiler/kir/kir.h"
#include "compiler/sema/checker.h"

namespace kmr::lower {

/// What a kernel body (or an inlined call) yields, with the measures taken on the way.
struct Yielded {
  kir::ResultKind kind = kir::ResultKind::Tensor;
  kir::NodeRef value, q, scale, zero, bits;
  std::vector<kir::Measure> measures;
};

class Lowerer {
 public:
  using Env = std::map<std::string, kir::NodeRef>;

  Lowerer(const sema::CheckedProgram& program, diag::DiagnosticSink& sink, kir::Kernel& kernel)
      : program_(program), sink_(sink), kernel_(kernel) {}

  /// Inlines kernel `decl` with its parameters bound to `args` (one per parameter; the
  /// first is the tensor). Measures are prefixed with `prefix` when it is not empty.
  std::optional<Yielded> inline_kernel(const ast::KernelDecl& decl, const std::vector<kir::NodeRef>& args,
                                       const std::string& prefix, const source::Span& at);
  /// Binds the arguments of a call to `decl`'s parameters from the second on (the first is
  /// the tensor), filling in defaults. `global` lowers rule arguments (knobs become params).
  std::optional<std::vector<kir::NodeRef>> bind_call(const ast::KernelDecl& decl, const std::vector<ast::Arg>& args,
                                                     size_t first, const Env* env, const source::Span& at);
  /// Lowers an expression of a rule's arguments: numbers, knobs (which become parameters
  /// of the kernel) and arithmetic.
  kir::NodeRef global(const ast::Expr& expr);
  /// The index of the kernel parameter `name`, added on first use.
  int param_index(const std::string& name, const std::string& type, double value);

  bool failed() const { return failed_; }
  kir::NodeRef fail(const source::Span& span, const std::string& message);
  kir::NodeRef check(Expected<kir::NodeRef> node, const source::Span& span);
  kir::NodeRef as_number(kir::NodeRef node, const source::Span& span);
  kir::NodeRef as_bool(kir::NodeRef node, const source::Span& span);

 private:
  std::optional<Yielded> lower_seq(std::vector<const ast::Stmt*> stmts, Env env, std::vector<kir::Measure> measures);
  std::optional<Yielded> merge(kir::NodeRef cond, Yielded a, Yielded b, const source::Span& span);
  std::optional<Yielded> yield_of(const ast::Expr& expr, const Env& env);
  kir::NodeRef expr(const ast::Expr& expr, const Env& env);
  kir::NodeRef binary(const ast::BinaryExpr& binary, const Env& env);
  kir::NodeRef call(const ast::CallExpr& call, const Env& env);
  std::optional<kir::Grouping> grouping(const ast::Expr* over, const Env& env);
  const ast::KernelDecl* kernel_named(const std::string& name, const Env& env) const;

  const sema::CheckedProgram& program_;
  diag::DiagnosticSink& sink_;
  kir::Kernel& kernel_;
  bool failed_ = false;
  std::vector<const ast::KernelDecl*> calls_;  // the inlining stack, to refuse recursion
  size_t paths_ = 0;                           // lowered statement sequences, bounded
  std::string prefix_;                         // of the measures of the kernel being inlined
};

/// The number a knob starts at: its default, else the first value of its domain.
double knob_default(const ast::KnobDecl& knob);

}  // namespace kmr::lower
