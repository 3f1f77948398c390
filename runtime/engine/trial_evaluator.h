// One trial of a policy: a configuration's pipelines materialised, every declared meter
// measured, every budget and requirement tested, and the objective's value.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/sema/checker.h"
#include "runtime/dataset.h"
#include "runtime/engine/host_extensions.h"
#include "runtime/engine/knob_space.h"
#include "runtime/engine/pipeline_runner.h"
#include "runtime/mlp.h"

namespace kmr::engine {

struct ConstraintResult {
  const ast::ConstraintDecl* decl = nullptr;
  std::string text;  // as written, formatted
  double lhs = 0, rhs = 0;
  bool holds = false;
};

struct TrialResult {
  Configuration config;
  std::vector<std::pair<std::string, double>> meters;  // every declared meter, in order
  std::vector<ConstraintResult> constraints;           // budgets then requirements, in order
  std::optional<double> objective;
  bool feasible = false;
  double seconds = 0;  // time to measure it (not deterministic; reports keep it apart)

  std::optional<double> meter(const std::string& name) const;
};

class TrialEvaluator {
 public:
  /// Prepares the evaluation of `program` (checked without errors): the meters, budgets,
  /// requirements and objective of its root module, their models and data sets. Kernels
  /// run on `kernels`; `host` (may be null) adds an embedding application's meters, rules
  /// and data; training rules report their epochs on `progress` (may be null). All must
  /// outlive the evaluator.
  static Expected<std::unique_ptr<TrialEvaluator>> create(const sema::CheckedProgram& program,
                                                          const ast::Module& root, ModelStore& store,
                                                          const KnobSpace& space, codegen::KernelEngine& kernels,
                                                          const HostExtensions* host = nullptr,
                                                          std::ostream* progress = nullptr);

  /// Measures configuration `config`. Deterministic for a given thread count.
  Expected<TrialResult> evaluate(const Configuration& config);
  /// Measures the unmodified models: every pipeline replaced by the model it starts from.
  Expected<TrialResult> evaluate_baseline();

  /// The model pipeline or model `name` materialises to under `config` (for saving).
  Expected<MaterializedModel> materialize(const std::string& name, const Configuration& config);

  /// What the pipelines had to leave undone (PipelineRunner::notes), for the report.
  std::vector<std::string> notes() const;
  /// Seconds the pipelines spent in kernels and native rules (PipelineRunner::kernel_seconds).
  double kernel_seconds() const;
  /// The runner of pipeline or model `name`, made on first use (once per run: it reads the
  /// pristine weights); a caller may make it ahead of the trials.
  Expected<PipelineRunner*> runner(const std::string& name);

 private:
  struct TrialState;
  TrialEvaluator(const sema::CheckedProgram& program, ModelStore& store, const KnobSpace& space,
                 codegen::KernelEngine& kernels, const HostExtensions* host)
      : program_(program), store_(store), space_(space), kernels_(kernels), host_(host) {}

  Expected<double> value_of(const ast::Expr& expr, TrialState& trial);
  Expected<double> meter_value(const ast::MeterDecl& meter, TrialState& trial);
  Expected<TrialResult> evaluate(TrialState& trial);
  Expected<double> meter_call(const ast::CallExpr& call, TrialState& trial);
  Expected<double> host_meter_call(const ast::CallExpr& call, const HostMeter& meter, TrialState& trial);
  Expected<const MaterializedModel*> model_of(const ast::Expr& expr, TrialState& trial);
  Expected<const runtime::Mlp*> mlp_of(const ast::Expr& expr, TrialState& trial);
  Expected<const runtime::Dataset*> data_of(const ast::Expr& expr);
  Expected<const runtime::Dataset*> data_named(const std::string& name);

  const sema::CheckedProgram& program_;
  ModelStore& store_;
  const KnobSpace& space_;
  codegen::KernelEngine& kernels_;
  const HostExtensions* host_;
  std::ostream* progress_ = nullptr;
  std::vector<const ast::MeterDecl*> meters_;
  std::vector<const ast::ConstraintDecl*> constraints_;
  const ast::ConstraintDecl* objective_ = nullptr;
  std::map<std::string, std::unique_ptr<PipelineRunner>> runners_;
  std::map<std::string, runtime::Dataset> data_;
};

}  // namespace kmr::engine
