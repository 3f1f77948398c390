// Materialises a pipeline for one configuration: its fused kernels run over the tensors
// their rules select, from the pristine weights, with results cached per tensor so a trial
// that changes one tensor's knob recomputes that tensor only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/codegen/engine.h"
#include "compiler/kir/tensor.h"
#include "compiler/passes/optimize.h"
#include "compiler/sema/checker.h"
#include "runtime/engine/knob_space.h"
#include "runtime/engine/model_store.h"
#include "runtime/quantized_tensor.h"

namespace kmr::engine {

/// How a tensor is stored after its pipeline.
enum class Encoding { Dense, Sparse, Quantized };
const char* encoding_name(Encoding encoding);

/// One tensor of a materialised model.
struct TensorResult {
  std::string name;
  runtime::DType dtype = runtime::DType::F32;
  std::vector<int64_t> shape;
  Encoding encoding = Encoding::Dense;
  std::shared_ptr<const std::vector<float>> values;      // the decoded values (float tensors)
  std::shared_ptr<const runtime::QuantizedTensor> quantized;  // Quantized only
  uint64_t encoded_bytes = 0;  // tensor data bytes as saved
  int64_t numel = 0;
  int64_t nonzeros = 0;
  std::vector<std::pair<std::string, double>> measures;  // fused kernel measures
  bool transformed = false;  // a rule touched it
};

/// A model after its pipeline: every tensor of the source model, in checkpoint order.
struct MaterializedModel {
  std::vector<TensorResult> tensors;
  const TensorResult* find(const std::string& name) const;
};

/// The model declaration a pipeline (or model) `name` starts from; null when it starts
/// from another pipeline, which PipelineRunner does not support yet.
const ast::Decl* root_model(const sema::CheckedProgram& program, const std::string& name);

class PipelineRunner {
 public:
  /// Prepares pipeline (or model) `name` of a program checked without errors: lowers and
  /// fuses its rules, prepares each kernel and resolves the tensors each step targets.
  /// Fails for what cannot run yet (native rules such as distill and lowrank) with a
  /// message naming the rule. Kernels run on `kernels` (JIT or interpreter), which must
  /// outlive the runner.
  static Expected<std::unique_ptr<PipelineRunner>> create(const sema::CheckedProgram& program,
                                                          const std::string& name, ModelStore& store,
                                                          const KnobSpace& space, codegen::KernelEngine& kernels);

  /// The model for `config`. Deterministic; results of tensors whose knob values did not
  /// change since an earlier call are reused.
  Expected<MaterializedModel> run(const Configuration& config);

  /// Kernel runs performed so far (cache misses), for tests and the report.
  size_t kernel_runs() const { return kernel_runs_; }

 private:
  struct Step {
    std::string rules;  // "prune|>quant"
    passes::PreparedKernel kernel;
    std::vector<std::string> targets;
    std::vector<int> param_slots_scalar;  // per kernel param: the scalar knob's slot, or -1
  };
  PipelineRunner(const StoredModel& model, const KnobSpace& space, codegen::KernelEngine& kernels)
      : model_(model), space_(space), kernels_(kernels) {}
  Expected<kir::ParamValues> params_for(const Step& step, const std::string& tensor, const Configuration& config) const;
  Expected<TensorResult> run_step(const Step& step, const TensorResult& input, const kir::ParamValues& params);

  const StoredModel& model_;
  const KnobSpace& space_;
  codegen::KernelEngine& kernels_;
  std::vector<Step> steps_;
  std::map<std::pair<std::string, kir::ParamValues>, TensorResult> cache_;  // key: step#tensor, params
  size_t kernel_runs_ = 0;
};

}  // namespace kmr::engine
