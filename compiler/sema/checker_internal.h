// The checker's state and its per-family check functions, shared by the check_*.cpp files.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/sema/builtins.h"
#include "compiler/sema/checker.h"
#include "compiler/sema/const_eval.h"

namespace kmr::sema {

/// Where an expression is typed; decides which names and calls are in scope.
enum class Where { Global, RuleArg, Meter, Constraint, Kernel, Policy };

struct Local {
  Type type;
  source::Span span;
  Type element = Type::Error;  // for lists bound by `for`
};

struct Scope {
  Where where = Where::Global;
  const ast::KernelDecl* kernel = nullptr;  // in kernel bodies
  std::vector<std::map<std::string, Local>> frames;

  const Local* find(const std::string& name) const;
};

/// A knob family's index: the model and glob that pick its tensors.
struct FamilyIndex {
  std::string model;
  std::string glob;
};

class Checker {
 public:
  Checker(const source::SourceManager& sources, diag::DiagnosticSink& sink, const CheckOptions& options)
      : sources_(sources), sink_(sink), options_(options) {}

  CheckedProgram run(const std::vector<const ast::Module*>& modules);

 private:
  // check_decls.cpp
  void collect(const ast::Decl& decl);
  void check_host_bindings();
  void check_decl(const ast::Decl& decl);
  void check_model_or_data(const ast::ValueDecl& decl);
  void check_knob(const ast::KnobDecl& knob);
  void check_domain(const ast::KnobDecl& knob, Type type);
  void check_rule(const ast::RuleDecl& rule);
  void check_pipeline(const ast::ValueDecl& pipeline);
  void check_meter(const ast::MeterDecl& meter);
  void check_constraint(const ast::ConstraintDecl& constraint);
  void check_output(const ast::OutputDecl& output);
  void check_cycles();
  void warn_unused();
  std::string where_defined(const source::Span& span) const;
  std::optional<FamilyIndex> selection_index(const ast::Expr& selection);

  // check_exprs.cpp
  Type type_of(const ast::Expr& expr, Scope& scope);
  Type type_of_name(const ast::NameExpr& name, Scope& scope);
  Type type_of_binary(const ast::BinaryExpr& binary, Scope& scope);
  Type type_of_call(const ast::CallExpr& call, Scope& scope);
  Type type_of_builtin_call(const Builtin& builtin, const ast::CallExpr& call, Scope& scope);
  Type type_of_kernel_function(const Builtin& builtin, const ast::CallExpr& call, Scope& scope);
  void check_grouping(const ast::Expr& over, Scope& scope);
  Type expect(const ast::Expr& expr, Type wanted, Scope& scope);
  /// Reports that `expr`, of type `found`, is not the `wanted` type: E046 when it is a
  /// number whose unit gives the wrong type (`60 KiB` for a duration), E040 otherwise.
  void report_mismatch(const ast::Expr& expr, const std::string& wanted, Type found);
  /// Binds a call's arguments to parameters: positional first, then by name. Reports
  /// unknown, duplicate, missing and surplus arguments, and types the arguments it could
  /// not bind (so that their names are resolved and count as used). The result has one
  /// entry per parameter (null when not given); the caller types the bound arguments.
  std::vector<const ast::Expr*> bind_arguments(const std::string& callee, const std::vector<BuiltinParam>& params,
                                               const std::vector<ast::Arg>& args, const source::Span& call_span,
                                               const char* surplus_note, Scope& scope);
  bool mentions_meter(const ast::Expr& expr) const;

  // check_kernels.cpp
  void check_kernel(const ast::KernelDecl& kernel);
  void check_kernel_stmt(const ast::Stmt& stmt, Scope& scope, std::set<std::string>& measures);
  bool always_yields(const ast::Block& block) const;

  // check_policies.cpp
  void check_policy(const ast::PolicyDecl& policy);
  void check_policy_block(const ast::Block& block, Scope& scope);
  void check_policy_stmt(const ast::Stmt& stmt, Scope& scope);
  const Symbol* knob_for_update(const std::string& name, const source::Span& span);

  void define_local(Scope& scope, const std::string& name, Local local);
  const Symbol* lookup(const std::string& name) const;

  const source::SourceManager& sources_;
  diag::DiagnosticSink& sink_;
  const CheckOptions& options_;
  CheckedProgram program_;
  std::set<std::string> used_knobs_, used_meters_;
  std::map<std::string, FamilyIndex> families_;
  std::map<std::string, std::vector<std::string>> depends_on_;  // pipelines, meters, kernels
  const ast::Decl* first_policy_ = nullptr;
  const ast::Decl* first_objective_ = nullptr;
  const ast::Decl* first_report_ = nullptr;
  std::map<std::string, const ast::OutputDecl*> saves_;
  std::string current_decl_;  // whose dependencies type_of records
};

}  // namespace kmr::sema
