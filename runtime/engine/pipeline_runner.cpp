// Pipeline materialisation through the kernel engine, with a per-tensor result cache.
#include "runtime/engine/pipeline_runner.h"

#include <fmt/format.h>

#include "compiler/lower/lower_kernel.h"
#include "compiler/sema/const_eval.h"
#include "compiler/sema/resource_probe.h"
#include "runtime/sparse_tensor.h"

namespace kmr::engine {
namespace {

uint64_t dense_bytes(const StoredTensor& tensor) {
  if (!tensor.is_float()) return tensor.raw.size();
  return static_cast<uint64_t>(tensor.numel()) * static_cast<uint64_t>(runtime::dtype_bits(tensor.dtype)) / 8;
}

int64_t count_nonzeros(const std::vector<float>& values) {
  int64_t n = 0;
  for (float v : values) n += v != 0.0f;
  return n;
}

// The glob of a rule's `on m.match("glob")` or `on match("glob")`.
std::optional<std::string> target_glob(const ast::RuleDecl& rule) {
  const auto* call = rule.target ? rule.target->as<ast::CallExpr>() : nullptr;
  if (call == nullptr || call->args.empty()) return std::nullopt;
  auto glob = sema::evaluate_constant(*call->args[0].value);
  if (!glob || glob->type != sema::Type::String) return std::nullopt;
  return glob->text;
}

}  // namespace

const ast::Decl* root_model(const sema::CheckedProgram& program, const std::string& name) {
  auto it = program.symbols.find(name);
  if (it == program.symbols.end()) return nullptr;
  if (it->second.kind == sema::SymbolKind::Model) return it->second.decl;
  if (it->second.kind != sema::SymbolKind::Pipeline) return nullptr;
  const ast::Expr* first = static_cast<const ast::ValueDecl&>(*it->second.decl).value.get();
  while (const auto* pipe = first->as<ast::BinaryExpr>()) first = pipe->lhs.get();
  const auto* stage = first->as<ast::NameExpr>();
  auto model = stage ? program.symbols.find(stage->name) : program.symbols.end();
  if (model == program.symbols.end() || model->second.kind != sema::SymbolKind::Model) return nullptr;
  return model->second.decl;
}

namespace {

// A kernel's quantized output in the checkpoint's representation. Kernels give unsigned
// codes with a zero point for asymmetric schemes; the layout stores them signed.
Expected<runtime::QuantizedTensor> to_quantized(const kir::KernelOutput& out, const StoredTensor& tensor) {
  runtime::QuantizedTensor q;
  q.name = tensor.name;
  q.shape = tensor.shape;
  q.dtype = tensor.dtype;
  q.bits = out.bits;
  q.symmetric = !out.has_zero;
  switch (out.grid) {
    case kir::ScaleGrid::Tensor: q.strategy = runtime::QuantStrategy::Tensor; break;
    case kir::ScaleGrid::Row: q.strategy = runtime::QuantStrategy::Channel; break;
    case kir::ScaleGrid::Group:
      q.strategy = runtime::QuantStrategy::Group;
      q.group_size = out.group_size;
      break;
  }
  int offset = out.codes_signed ? 0 : 1 << (out.bits - 1);
  q.codes.reserve(out.codes.size());
  for (uint8_t code : out.codes)
    q.codes.push_back(static_cast<int8_t>(out.codes_signed ? static_cast<int8_t>(code) : int(code) - offset));
  q.scales = out.scales;
  for (float zero : out.zeros) {
    long shifted = std::lround(zero) - offset;
    if (shifted < -128 || shifted > 127)
      return Error{fmt::format("tensor '{}': zero point {} does not fit {} bits", tensor.name, zero, out.bits)};
    q.zero_points.push_back(static_cast<int8_t>(shifted));
  }
  if (auto status = runtime::validate(q); !status) return status.error();
  return q;
}

}  // namespace

const char* encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::Dense: return "dense";
    case Encoding::Sparse: return "sparse-bitmask";
    case Encoding::Quantized: return "quantized";
  }
  return "?";
}

const TensorResult* MaterializedModel::find(const std::string& name) const {
  for (const auto& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

Expected<std::unique_ptr<PipelineRunner>> PipelineRunner::create(const sema::CheckedProgram& program,
                                                                 const std::string& name, ModelStore& store,
                                                                 const KnobSpace& space,
                                                                 codegen::KernelEngine& kernels) {
  const ast::Decl* root = root_model(program, name);
  auto facts = root ? program.models.find(root->name) : program.models.end();
  if (facts == program.models.end())
    return Error{fmt::format("'{}' does not start from a model loaded from a file (pipelines of pipelines "
                             "run in a later milestone)", name)};
  auto model = store.load(facts->second.path);
  if (!model) return model.error();
  std::unique_ptr<PipelineRunner> runner(new PipelineRunner(**model, space, kernels));

  const sema::Symbol& symbol = program.symbols.at(name);
  if (symbol.kind != sema::SymbolKind::Pipeline) return runner;
  diag::DiagnosticSink sink;
  auto steps = lower::lower_pipeline(program, static_cast<const ast::ValueDecl&>(*symbol.decl), sink);
  if (!steps) return Error{fmt::format("pipeline '{}' cannot be lowered to kernels", name)};
  for (const auto& lowered : *steps) {
    std::string rules;
    for (const auto& rule : lowered.rules) rules += (rules.empty() ? "" : "|>") + rule;
    if (!lowered.kernel)
      return Error{fmt::format("pipeline '{}': rule '{}' uses the native kernel '{}', which `kmrc run` does not run yet",
                               name, rules, lowered.native)};
    auto prepared = passes::prepare(*lowered.kernel);
    if (!prepared) return prepared.error();
    Step step{rules, std::move(*prepared), {}, {}};
    const auto& rule = static_cast<const ast::RuleDecl&>(*program.symbols.at(lowered.rules.front()).decl);
    auto glob = target_glob(rule);
    for (const auto& tensor : runner->model_.tensors)
      if (glob && sema::glob_matches(*glob, tensor.name)) step.targets.push_back(tensor.name);
    for (const auto& param : step.kernel.kernel.params) step.param_slots_scalar.push_back(space.find(param.name));
    runner->steps_.push_back(std::move(step));
  }
  return runner;
}

Expected<kir::ParamValues> PipelineRunner::params_for(const Step& step, const std::string& tensor,
                                                      const Configuration& config) const {
  kir::ParamValues values;
  const auto& params = step.kernel.kernel.params;
  for (size_t i = 0; i < params.size(); ++i) {
    int slot = step.param_slots_scalar[i] >= 0 ? step.param_slots_scalar[i] : space_.find(params[i].name, tensor);
    if (slot < 0)
      return Error{fmt::format("knob '{}' has no value for tensor '{}' (its family does not index it)", params[i].name,
                               tensor)};
    values.push_back(space_.slots[slot].values.at(config.at(slot)));
  }
  return values;
}

Expected<TensorResult> PipelineRunner::run_step(const Step& step, const TensorResult& input,
                                                const kir::ParamValues& params) {
  const StoredTensor& stored = *model_.find(input.name);
  kir::TensorView view{input.name, input.values->data(), stored.rows(), stored.cols()};
  auto out = kernels_.run(step.kernel, view, params);
  if (!out) return out.error();
  ++kernel_runs_;
  TensorResult result = input;
  result.transformed = true;
  result.measures.insert(result.measures.end(), out->measures.begin(), out->measures.end());
  if (out->kind == kir::ResultKind::Quantized) {
    auto quantized = to_quantized(*out, stored);
    if (!quantized) return quantized.error();
    auto values = std::make_shared<std::vector<float>>(runtime::dequantize(*quantized));
    result.encoding = Encoding::Quantized;
    result.encoded_bytes = runtime::encoded_bytes(*quantized);
    result.nonzeros = count_nonzeros(*values);
    result.values = std::move(values);
    result.quantized = std::make_shared<runtime::QuantizedTensor>(std::move(*quantized));
    return result;
  }
  auto values = std::make_shared<std::vector<float>>(std::move(out->values));
  result.nonzeros = count_nonzeros(*values);
  result.quantized.reset();
  // A pruned tensor is stored as a bitmask when that is smaller than storing it dense.
  auto sparse = runtime::sparse_from_dense(stored.name, stored.shape, stored.dtype, values->data());
  uint64_t sparse_bytes = runtime::encoded_bytes(sparse);
  uint64_t dense = dense_bytes(stored);
  result.encoding = sparse_bytes < dense ? Encoding::Sparse : Encoding::Dense;
  result.encoded_bytes = std::min(sparse_bytes, dense);
  result.values = std::move(values);
  return result;
}

Expected<MaterializedModel> PipelineRunner::run(const Configuration& config) {
  MaterializedModel model;
  for (const auto& tensor : model_.tensors) {
    TensorResult result;
    result.name = tensor.name;
    result.dtype = tensor.dtype;
    result.shape = tensor.shape;
    result.numel = tensor.numel();
    result.encoded_bytes = dense_bytes(tensor);
    if (tensor.is_float()) {
      // Non-owning: the store outlives every materialised model.
      result.values = std::shared_ptr<const std::vector<float>>(std::shared_ptr<void>(), &tensor.values);
      result.nonzeros = count_nonzeros(tensor.values);
    }
    model.tensors.push_back(std::move(result));
  }
  std::map<std::string, kir::ParamValues> chain;  // per tensor: the params of every step so far
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    for (const auto& name : step.targets) {
      TensorResult* current = nullptr;
      for (auto& tensor : model.tensors)
        if (tensor.name == name) current = &tensor;
      if (current == nullptr || !current->values)
        return Error{fmt::format("rule '{}' selects tensor '{}', which is not a float tensor", step.rules, name)};
      auto params = params_for(step, name, config);
      if (!params) return params.error();
      auto& key_params = chain[name];
      key_params.insert(key_params.end(), params->begin(), params->end());
      auto key = std::make_pair(std::to_string(s) + "#" + name, key_params);
      auto cached = cache_.find(key);
      if (cached == cache_.end()) {
        auto result = run_step(step, *current, *params);
        if (!result) return result.error();
        cached = cache_.emplace(std::move(key), std::move(*result)).first;
      }
      *current = cached->second;
    }
  }
  return model;
}

}  // namespace kmr::engine
