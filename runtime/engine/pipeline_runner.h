// Materialises a pipeline for one configuration: its fused kernels run over the tensors
// their rules select, from the pristine weights, with results cached per tensor so a trial
// that changes one tensor's knob recomputes that tensor only.
#pragma once

#include <iosfwd>
#include <functional>
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
#include "runtime/engine/rule_arguments.h"
#include "runtime/engine/tensor_values.h"
#include "runtime/engine/model_store.h"
#include "runtime/dataset.h"
#include "runtime/low_rank_tensor.h"
#include "runtime/mlp.h"
#include "runtime/quantized_tensor.h"

namespace kmr::engine {

/// How a tensor is stored after its pipeline.
enum class Encoding { Dense, Sparse, Quantized, LowRank };
const char* encoding_name(Encoding encoding);

/// One tensor of a materialised model.
struct TensorResult {
  std::string name;
  runtime::DType dtype = runtime::DType::F32;
  std::vector<int64_t> shape;
  Encoding encoding = Encoding::Dense;
  TensorValues values;  // float tensors: the values (a quantized result decodes them on first use)
  std::shared_ptr<const std::vector<uint8_t>> raw;       // other dtypes, as stored (rules never touch them)
  std::shared_ptr<const runtime::QuantizedTensor> quantized;  // Quantized only
  std::shared_ptr<const runtime::LowRankTensor> low_rank;     // LowRank only
  uint64_t encoded_bytes = 0;  // tensor data bytes as saved
  int64_t numel = 0;
  int64_t nonzeros = 0;  // of the stored values: a low-rank weight counts its factors' non-zeros
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

/// The activation `load(..., arch = mlp(act = a))` declares for the model `name` starts
/// from (relu when none is given).
runtime::Activation activation_of(const sema::CheckedProgram& program, const std::string& name);

/// The MLP whose layers are the `fcN.weight` / `fcN.bias` tensors of `model`, as decoded,
/// with LoRA adapters (`fcN.lora_A.weight`, `fcN.lora_B.weight`) merged into their weights.
Expected<runtime::Mlp> to_mlp(const MaterializedModel& model, runtime::Activation act);

/// `result` (a tensor's entry before a rule) holding the rule's float output `values`:
/// stored as a bitmask when that is smaller than dense, else dense.
TensorResult float_result(TensorResult result, std::vector<float> values);

struct HostExtensions;

/// What native rules need besides their arguments: data sets and models by name (from the
/// evaluator), and the host's rules.
struct NativeServices {
  std::function<Expected<const runtime::Dataset*>(const std::string& name)> data;
  const HostExtensions* host = nullptr;
  /// Where training rules redraw a line per epoch (distill) or report (lora); null for none.
  std::ostream* progress = nullptr;
};

class PipelineRunner {
 public:
  /// Prepares pipeline (or model) `name` of a program checked without errors: lowers and
  /// fuses its rules and prepares each kernel; native rules (lowrank, distill, lora and the
  /// host's) run through `services`. Kernels run on `kernels` (JIT or interpreter), which
  /// must outlive the runner, as must `services`' referents.
  static Expected<std::unique_ptr<PipelineRunner>> create(const sema::CheckedProgram& program,
                                                          const std::string& name, ModelStore& store,
                                                          const KnobSpace& space, codegen::KernelEngine& kernels,
                                                          NativeServices services = {});

  /// The model for `config`. Deterministic; results of tensors whose knob values did not
  /// change since an earlier call are reused.
  Expected<MaterializedModel> run(const Configuration& config);

  /// Kernel runs performed so far (cache misses), for tests and the report.
  size_t kernel_runs() const { return kernel_runs_; }
  /// Seconds spent inside kernels and native rules so far (the rest of a trial is the
  /// runtime's overhead and the meters).
  double kernel_seconds() const { return kernel_seconds_; }
  /// What the runs had to leave undone, once each (e.g. a kernel skipping low-rank factors).
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  struct Step {
    std::string rules;                             // "prune|>quant"
    std::optional<passes::PreparedKernel> kernel;  // a fused KIR kernel, or
    const ast::KernelDecl* native = nullptr;       // a native kernel
    const ast::RuleDecl* rule = nullptr;           // the (first) rule: its target and arguments
    bool whole_model = false;                      // the native kernel takes and returns a model
    std::optional<std::string> glob;               // tensors it applies to, matched at run time
    std::vector<int> param_slots_scalar;           // kernels: per param, the scalar knob's slot or -1
  };
  PipelineRunner(const StoredModel& model, const KnobSpace& space, codegen::KernelEngine& kernels,
                 NativeServices services, runtime::Activation act)
      : model_(model), space_(space), kernels_(kernels), services_(std::move(services)), act_(act) {}
  Expected<kir::ParamValues> params_for(const Step& step, const std::string& tensor, const Configuration& config) const;
  Expected<std::vector<RuleArgument>> native_args(const Step& step, const std::string& tensor,
                                                  const Configuration& config) const;
  Expected<TensorResult> run_kernel(const Step& step, const TensorResult& input, const kir::ParamValues& params);
  /// A kernel after lowrank: each factor (U rows x rank, V rank x cols) is run through it as
  /// a tensor of its own, named factor_name(), with the weight's arguments; quantized
  /// results become the weight's quantized factors.
  Expected<TensorResult> run_kernel_on_factors(const Step& step, const TensorResult& input,
                                               const kir::ParamValues& params);
  Expected<TensorResult> run_native_tensor(const Step& step, const TensorResult& input,
                                           const std::vector<RuleArgument>& args);
  Expected<MaterializedModel> run_native_model(const Step& step, const MaterializedModel& input,
                                               const std::vector<RuleArgument>& args);
  MaterializedModel pristine() const;  // built once, by create(): every trial starts from a copy
  void note(std::string text);

  const StoredModel& model_;
  const KnobSpace& space_;
  codegen::KernelEngine& kernels_;
  NativeServices services_;
  runtime::Activation act_;
  std::vector<Step> steps_;
  MaterializedModel pristine_;
  // Keys: the step and tensor, and every argument that shaped the input and the step.
  std::map<std::pair<std::string, std::vector<double>>, TensorResult> cache_;
  std::map<std::pair<size_t, std::vector<double>>, MaterializedModel> model_cache_;
  size_t kernel_runs_ = 0;
  double kernel_seconds_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace kmr::engine
