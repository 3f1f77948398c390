// Pipeline materialisation: fused kernels on the kernel engine and native rules (low-rank,
// distillation, LoRA, the host's), with results cached per tensor and per model.
#include "runtime/engine/pipeline_runner.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "compiler/lower/lower_kernel.h"
#include "compiler/sema/const_eval.h"
#include "compiler/sema/resource_probe.h"
#include "runtime/distillation.h"
#include "runtime/engine/host_extensions.h"
#include "runtime/lora.h"
#include "runtime/low_rank.h"
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
  q.codes.resize(out.codes.size());
  const uint8_t* from = out.codes.data();
  int8_t* to = q.codes.data();
  if (out.codes_signed) std::memcpy(to, from, out.codes.size());  // two's complement bytes
  else
    for (size_t i = 0; i < out.codes.size(); ++i) to[i] = static_cast<int8_t>(int(from[i]) - offset);
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
    case Encoding::LowRank: return "low-rank";
  }
  return "?";
}

const TensorResult* MaterializedModel::find(const std::string& name) const {
  for (const auto& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

runtime::Activation activation_of(const sema::CheckedProgram& program, const std::string& name) {
  const ast::Decl* root = root_model(program, name);
  const auto* load = root ? static_cast<const ast::ValueDecl&>(*root).value->as<ast::CallExpr>() : nullptr;
  if (load != nullptr)
    for (const auto& arg : load->args)
      if (const auto* arch = arg.value->as<ast::CallExpr>(); arch && arg.name == "arch")
        for (const auto& a : arch->args)
          if (const auto* act = a.value->as<ast::NameExpr>())
            if (auto parsed = runtime::parse_activation(act->name)) return *parsed;
  return runtime::Activation::relu;
}

Expected<runtime::Mlp> to_mlp(const MaterializedModel& model, runtime::Activation act) {
  runtime::Mlp mlp;
  mlp.act = act;
  for (int layer = 1;; ++layer) {
    const TensorResult* weight = model.find(fmt::format("fc{}.weight", layer));
    const TensorResult* bias = model.find(fmt::format("fc{}.bias", layer));
    if (weight == nullptr || bias == nullptr) break;
    if (!weight->values || !bias->values || weight->shape.size() != 2)
      return Error{fmt::format("fc{} is not a float matrix and bias", layer)};
    runtime::DenseLayer dense;
    dense.weight = Eigen::Map<const runtime::Matrix>(weight->values->data(), weight->shape[0], weight->shape[1]);
    dense.bias = Eigen::Map<const Eigen::VectorXf>(bias->values->data(), static_cast<Eigen::Index>(bias->values->size()));
    const TensorResult* a = model.find(fmt::format("fc{}.lora_A.weight", layer));
    const TensorResult* b = model.find(fmt::format("fc{}.lora_B.weight", layer));
    if (a != nullptr && b != nullptr) {
      // Adapters are trained at scale 1 (alpha = rank): W + B A is the adapted layer.
      runtime::Matrix a_matrix = Eigen::Map<const runtime::Matrix>(a->values->data(), a->shape[0], a->shape[1]);
      runtime::Matrix b_matrix = Eigen::Map<const runtime::Matrix>(b->values->data(), b->shape[0], b->shape[1]);
      dense.weight += b_matrix * a_matrix;
    }
    mlp.layers.push_back(std::move(dense));
  }
  if (mlp.layers.empty()) return Error{"the model has no fc1.weight / fc1.bias layers to run"};
  return mlp;
}

TensorResult float_result(TensorResult result, std::vector<float> values) {
  auto shared = std::make_shared<std::vector<float>>(std::move(values));
  result.transformed = true;
  result.nonzeros = count_nonzeros(*shared);
  result.quantized.reset();
  result.low_rank.reset();
  // A pruned tensor is stored as a bitmask when that is smaller than storing it dense (as
  // F32: a rule's output is not converted back to a narrower original dtype).
  auto sparse = runtime::sparse_from_dense(result.name, result.shape, result.dtype, shared->data());
  uint64_t sparse_bytes = runtime::encoded_bytes(sparse);
  uint64_t dense = static_cast<uint64_t>(result.numel) * 4;
  result.encoding = sparse_bytes < dense ? Encoding::Sparse : Encoding::Dense;
  result.encoded_bytes = std::min(sparse_bytes, dense);
  result.values = std::move(shared);
  return result;
}

namespace {

TensorResult dense_tensor(std::string name, std::vector<int64_t> shape, std::vector<float> values) {
  TensorResult result;
  result.name = std::move(name);
  result.shape = std::move(shape);
  result.numel = static_cast<int64_t>(values.size());
  result.transformed = true;
  result.nonzeros = count_nonzeros(values);
  result.encoded_bytes = static_cast<uint64_t>(values.size()) * 4;
  result.values = std::make_shared<std::vector<float>>(std::move(values));
  return result;
}

std::vector<float> matrix_values(const runtime::Matrix& m) { return std::vector<float>(m.data(), m.data() + m.size()); }

// A freshly trained model's tensors, dense F32, as its checkpoint would name them.
MaterializedModel materialize_mlp(const runtime::Mlp& mlp) {
  MaterializedModel model;
  for (size_t l = 0; l < mlp.layers.size(); ++l) {
    const auto& layer = mlp.layers[l];
    model.tensors.push_back(dense_tensor(fmt::format("fc{}.weight", l + 1), {layer.weight.rows(), layer.weight.cols()},
                                         matrix_values(layer.weight)));
    model.tensors.push_back(dense_tensor(fmt::format("fc{}.bias", l + 1), {layer.bias.size()},
                                         std::vector<float>(layer.bias.data(), layer.bias.data() + layer.bias.size())));
  }
  return model;
}

Expected<double> number_arg(const std::vector<RuleArgument>& args, const std::string& param) {
  const RuleArgument* arg = find_argument(args, param);
  if (arg == nullptr || arg->is_list || !arg->name.empty()) return Error{fmt::format("'{}' must be a number", param)};
  return arg->number;
}

}  // namespace

Expected<std::unique_ptr<PipelineRunner>> PipelineRunner::create(const sema::CheckedProgram& program,
                                                                 const std::string& name, ModelStore& store,
                                                                 const KnobSpace& space,
                                                                 codegen::KernelEngine& kernels,
                                                                 NativeServices services) {
  const ast::Decl* root = root_model(program, name);
  auto facts = root ? program.models.find(root->name) : program.models.end();
  if (facts == program.models.end())
    return Error{fmt::format("'{}' does not start from a model loaded from a file (pipelines of pipelines "
                             "run in a later milestone)", name)};
  auto model = store.load(facts->second.path);
  if (!model) return model.error();
  std::unique_ptr<PipelineRunner> runner(
      new PipelineRunner(**model, space, kernels, std::move(services), activation_of(program, name)));
  runner->pristine_ = runner->pristine();

  const sema::Symbol& symbol = program.symbols.at(name);
  if (symbol.kind != sema::SymbolKind::Pipeline) return runner;
  diag::DiagnosticSink sink;
  auto steps = lower::lower_pipeline(program, static_cast<const ast::ValueDecl&>(*symbol.decl), sink);
  if (!steps) return Error{fmt::format("pipeline '{}' cannot be lowered to kernels", name)};
  for (auto& lowered : *steps) {
    Step step;
    for (const auto& rule : lowered.rules) step.rules += (step.rules.empty() ? "" : "|>") + rule;
    step.rule = static_cast<const ast::RuleDecl*>(program.symbols.at(lowered.rules.front()).decl);
    step.glob = target_glob(*step.rule);
    if (lowered.kernel) {
      auto prepared = passes::prepare(*lowered.kernel);
      if (!prepared) return prepared.error();
      step.kernel = std::move(*prepared);
      for (const auto& param : step.kernel->kernel.params) step.param_slots_scalar.push_back(space.find(param.name));
    } else {
      auto decl = program.symbols.find(lowered.native);
      if (decl == program.symbols.end() || decl->second.decl->kind != ast::DeclKind::Kernel)
        return Error{fmt::format("rule '{}': no kernel '{}'", step.rules, lowered.native)};
      step.native = static_cast<const ast::KernelDecl*>(decl->second.decl);
      step.whole_model = !step.native->params.empty() && step.native->params[0].type.name == "model";
      bool known = step.whole_model ? lowered.native == "distill" || lowered.native == "lora"
                                    : lowered.native == "lowrank" ||
                                          (runner->services_.host && runner->services_.host->tensor_rules.count(lowered.native));
      if (!known)
        return Error{fmt::format("pipeline '{}': rule '{}' uses the native kernel '{}', which has no implementation "
                                 "here (an embedding application registers its own)",
                                 name, step.rules, lowered.native)};
    }
    runner->steps_.push_back(std::move(step));
  }
  return runner;
}

Expected<kir::ParamValues> PipelineRunner::params_for(const Step& step, const std::string& tensor,
                                                      const Configuration& config) const {
  kir::ParamValues values;
  const auto& params = step.kernel->kernel.params;
  for (size_t i = 0; i < params.size(); ++i) {
    int slot = step.param_slots_scalar[i] >= 0 ? step.param_slots_scalar[i] : space_.find(params[i].name, tensor);
    if (slot < 0)
      return Error{fmt::format("knob '{}' has no value for tensor '{}' (its family does not index it)", params[i].name,
                               tensor)};
    values.push_back(space_.slots[slot].values.at(config.at(slot)));
  }
  return values;
}

Expected<std::vector<RuleArgument>> PipelineRunner::native_args(const Step& step, const std::string& tensor,
                                                                const Configuration& config) const {
  const auto* call = step.rule->call->as<ast::CallExpr>();
  auto args = bind_rule_arguments(*call, *step.native, [&](const std::string& knob) -> std::optional<double> {
    int slot = space_.find(knob);
    if (slot < 0 && !tensor.empty()) slot = space_.find(knob, tensor);
    if (slot < 0) return std::nullopt;
    return space_.slots[slot].values.at(config.at(slot));
  });
  if (!args) return Error{fmt::format("rule '{}': {}", step.rules, args.error().message)};
  return args;
}

Expected<TensorResult> PipelineRunner::run_kernel(const Step& step, const TensorResult& input,
                                                  const kir::ParamValues& params) {
  kir::TensorView view{input.name, input.values->data(), input.shape.empty() ? 1 : input.shape[0],
                       input.shape.empty() || input.shape[0] == 0 ? 0 : input.numel / input.shape[0]};
  auto out = kernels_.run(*step.kernel, view, params);
  if (!out) return out.error();
  ++kernel_runs_;
  if (out->kind != kir::ResultKind::Quantized) {
    TensorResult result = float_result(input, std::move(out->values));
    result.measures.insert(result.measures.end(), out->measures.begin(), out->measures.end());
    return result;
  }
  TensorResult result = input;
  result.transformed = true;
  result.measures.insert(result.measures.end(), out->measures.begin(), out->measures.end());
  const StoredTensor* stored = model_.find(input.name);
  StoredTensor shape_of{input.name, stored ? stored->dtype : runtime::DType::F32, input.shape, {}, {}};
  auto quantized = to_quantized(*out, shape_of);
  if (!quantized) return quantized.error();
  auto codes = std::make_shared<const runtime::QuantizedTensor>(std::move(*quantized));
  result.encoding = Encoding::Quantized;
  result.encoded_bytes = runtime::encoded_bytes(*codes);
  result.nonzeros = runtime::nonzero_count(*codes);
  result.values = TensorValues::decoded_on_use([codes] { return runtime::dequantize(*codes); });
  result.low_rank.reset();
  result.quantized = std::move(codes);
  return result;
}

namespace {

TensorResult low_rank_result(const TensorResult& input, std::shared_ptr<const runtime::LowRankTensor> low_rank) {
  TensorResult result = input;
  result.transformed = true;
  result.encoding = Encoding::LowRank;
  result.quantized.reset();
  result.values = std::make_shared<std::vector<float>>(runtime::dequantize(*low_rank));
  // Meters count what a low-rank kernel would multiply by: the factors.
  result.nonzeros = count_nonzeros(low_rank->u) + count_nonzeros(low_rank->v);
  result.encoded_bytes = runtime::encoded_bytes(*low_rank);
  result.low_rank = std::move(low_rank);
  return result;
}

}  // namespace

Expected<TensorResult> PipelineRunner::run_native_tensor(const Step& step, const TensorResult& input,
                                                         const std::vector<RuleArgument>& args) {
  ++kernel_runs_;
  const std::string& kernel = step.native->name;
  if (kernel != "lowrank") {
    std::vector<double> numbers;
    for (const auto& arg : args) numbers.push_back(arg.number);
    const auto& rule = services_.host->tensor_rules.at(kernel);
    auto values = rule(HostTensorRuleCall{input.name, input.shape, *input.values, numbers});
    if (!values) return Error{fmt::format("rule '{}' on tensor '{}': {}", step.rules, input.name, values.error().message)};
    if (static_cast<int64_t>(values->size()) != input.numel)
      return Error{fmt::format("rule '{}' on tensor '{}': returned {} values for {} elements", step.rules, input.name,
                               values->size(), input.numel)};
    return float_result(input, std::move(*values));
  }
  if (input.shape.size() != 2)
    return Error{fmt::format("rule '{}': lowrank factors matrices; tensor '{}' has {} dimensions", step.rules,
                             input.name, input.shape.size())};
  auto rank = number_arg(args, "rank");
  if (!rank) return rank.error();
  runtime::Matrix w = Eigen::Map<const runtime::Matrix>(input.values->data(), input.shape[0], input.shape[1]);
  auto factors = runtime::truncated_svd(w, static_cast<int64_t>(*rank));
  if (!factors) return Error{fmt::format("rule '{}' on tensor '{}': {}", step.rules, input.name, factors.error().message)};
  auto low_rank = std::make_shared<runtime::LowRankTensor>();
  low_rank->name = input.name;
  low_rank->rows = input.shape[0];
  low_rank->cols = input.shape[1];
  low_rank->rank = factors->a.cols();
  low_rank->u = matrix_values(factors->a);
  low_rank->v = matrix_values(factors->b);
  return low_rank_result(input, std::move(low_rank));
}

Expected<TensorResult> PipelineRunner::run_kernel_on_factors(const Step& step, const TensorResult& input,
                                                             const kir::ParamValues& params) {
  const runtime::LowRankTensor& from = *input.low_rank;
  auto low_rank = std::make_shared<runtime::LowRankTensor>();
  low_rank->name = from.name;
  low_rank->rows = from.rows;
  low_rank->cols = from.cols;
  low_rank->rank = from.rank;
  low_rank->dtype = from.dtype;
  std::vector<std::pair<std::string, double>> measures;
  for (char factor : {'u', 'v'}) {
    TensorResult part;
    part.name = runtime::factor_name(from.name, factor);
    part.shape = factor == 'u' ? std::vector<int64_t>{from.rows, from.rank} : std::vector<int64_t>{from.rank, from.cols};
    part.numel = part.shape[0] * part.shape[1];
    // A view of the factor: the low-rank tensor outlives this call.
    part.values = std::shared_ptr<const std::vector<float>>(input.low_rank, factor == 'u' ? &from.u : &from.v);
    auto out = run_kernel(step, part, params);
    if (!out) return out.error();
    (factor == 'u' ? low_rank->u : low_rank->v) = *out->values;
    if (out->quantized) (factor == 'u' ? low_rank->u_quantized : low_rank->v_quantized) = *out->quantized;
    measures.insert(measures.end(), out->measures.begin(), out->measures.end());
  }
  if (auto valid = runtime::validate(*low_rank); !valid)
    return Error{fmt::format("rule '{}' on the factors of '{}': {}", step.rules, from.name, valid.error().message)};
  TensorResult result = low_rank_result(input, std::move(low_rank));
  result.measures.insert(result.measures.end(), measures.begin(), measures.end());
  return result;
}

Expected<MaterializedModel> PipelineRunner::run_native_model(const Step& step, const MaterializedModel& input,
                                                             const std::vector<RuleArgument>& args) {
  ++kernel_runs_;
  const std::string& kernel = step.native->name;
  const RuleArgument* data_arg = find_argument(args, "data");
  if (data_arg == nullptr || data_arg->name.empty() || !services_.data)
    return Error{fmt::format("rule '{}': `data` must name a data set", step.rules)};
  auto data = services_.data(data_arg->name);
  if (!data) return Error{fmt::format("rule '{}': {}", step.rules, data.error().message)};
  auto lr = number_arg(args, "lr");
  auto seed = number_arg(args, "seed");
  if (!lr) return lr.error();
  if (!seed) return seed.error();
  auto base = to_mlp(input, act_);
  if (!base) return Error{fmt::format("rule '{}': {}", step.rules, base.error().message)};

  if (kernel == "distill") {
    // The teacher is the model flowing in unless the rule names another (pristine) one.
    runtime::DistillSettings settings;
    const RuleArgument* hidden = find_argument(args, "hidden");
    if (hidden == nullptr || !hidden->is_list || hidden->list.empty())
      return Error{fmt::format("rule '{}': `hidden` must be a non-empty list of widths", step.rules)};
    for (double width : hidden->list) {
      if (width < 1 || width != std::floor(width))
        return Error{fmt::format("rule '{}': hidden width {} is not a positive integer", step.rules, width)};
      settings.hidden.push_back(static_cast<int64_t>(width));
    }
    auto temperature = number_arg(args, "temperature");
    auto alpha = number_arg(args, "alpha");
    auto epochs = number_arg(args, "epochs");
    if (!temperature) return temperature.error();
    if (!alpha) return alpha.error();
    if (!epochs) return epochs.error();
    settings.temperature = *temperature;
    settings.alpha = *alpha;
    settings.epochs = static_cast<int>(*epochs);
    settings.learning_rate = static_cast<float>(*lr);
    settings.seed = static_cast<uint64_t>(*seed);
    runtime::DistillCallback report;
    if (services_.progress != nullptr)
      report = [out = services_.progress, &step](const runtime::DistillProgress& at, const runtime::Mlp&) {
        *out << fmt::format("\r\x1b[Krule '{}': epoch {}/{}, loss {:.4f}, accuracy {:.2f}% on the batches trained",
                            step.rules, at.epoch, at.epochs, at.mean_loss, 100 * at.accuracy)
             << std::flush;
      };
    auto student = runtime::distill(*base, **data, settings, report);
    if (!student) return Error{fmt::format("rule '{}': {}", step.rules, student.error().message)};
    return materialize_mlp(*student);
  }

  runtime::LoraSettings settings;
  auto rank = number_arg(args, "rank");
  auto steps = number_arg(args, "steps");
  if (!rank) return rank.error();
  if (!steps) return steps.error();
  settings.rank = static_cast<int64_t>(*rank);
  settings.steps = static_cast<int64_t>(*steps);
  settings.learning_rate = static_cast<float>(*lr);
  settings.seed = static_cast<uint64_t>(*seed);
  runtime::LoraCallback report;
  if (services_.progress != nullptr)
    report = [out = services_.progress, &step](const runtime::LoraProgress& at, const runtime::LoraModel&) {
      *out << fmt::format("\r\x1b[Krule '{}': step {}/{}, loss {:.4f}, accuracy {:.2f}% on the batches trained",
                          step.rules, at.step, at.steps, at.mean_loss, 100 * at.accuracy)
           << std::flush;
    };
  auto adapted = runtime::lora(*base, **data, settings, report);
  if (!adapted) return Error{fmt::format("rule '{}': {}", step.rules, adapted.error().message)};
  // The base keeps its compressed tensors; the adapters are stored beside them.
  MaterializedModel model = input;
  for (size_t l = 0; l < adapted->adapters.size(); ++l) {
    const auto& adapter = adapted->adapters[l];
    model.tensors.push_back(dense_tensor(fmt::format("fc{}.lora_A.weight", l + 1), {adapter.a.rows(), adapter.a.cols()},
                                         matrix_values(adapter.a)));
    model.tensors.push_back(dense_tensor(fmt::format("fc{}.lora_B.weight", l + 1), {adapter.b.rows(), adapter.b.cols()},
                                         matrix_values(adapter.b)));
  }
  return model;
}

MaterializedModel PipelineRunner::pristine() const {
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
    } else {
      result.raw = std::shared_ptr<const std::vector<uint8_t>>(std::shared_ptr<void>(), &tensor.raw);
    }
    model.tensors.push_back(std::move(result));
  }
  return model;
}

void PipelineRunner::note(std::string text) {
  if (std::find(notes_.begin(), notes_.end(), text) == notes_.end()) notes_.push_back(std::move(text));
}

Expected<MaterializedModel> PipelineRunner::run(const Configuration& config) {
  MaterializedModel model = pristine_;
  // What shaped each tensor so far: the arguments of every step that touched it, after
  // those of the whole-model steps before (which shaped every tensor).
  std::vector<double> model_chain;
  std::map<std::string, std::vector<double>> chain;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    if (step.whole_model) {
      auto args = native_args(step, "", config);
      if (!args) return args.error();
      std::vector<double> key = model_chain;
      for (const auto& [name, params] : chain) key.insert(key.end(), params.begin(), params.end());
      auto arg_key = argument_key(*args);
      key.insert(key.end(), arg_key.begin(), arg_key.end());
      auto cached = model_cache_.find({s, key});
      if (cached == model_cache_.end()) {
        auto start = std::chrono::steady_clock::now();
        auto trained = run_native_model(step, model, *args);
        kernel_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (!trained) return trained.error();
        cached = model_cache_.emplace(std::make_pair(s, key), std::move(*trained)).first;
      }
      model = cached->second;
      key.push_back(static_cast<double>(s));
      model_chain = std::move(key);
      chain.clear();
      continue;
    }
    for (auto& current : model.tensors) {
      if (!step.glob || !sema::glob_matches(*step.glob, current.name)) continue;
      if (!current.values)
        return Error{fmt::format("rule '{}' selects tensor '{}', which is not a float tensor", step.rules, current.name)};
      if (current.encoding == Encoding::LowRank && !step.kernel) {
        note(fmt::format("rule '{}' left '{}' as it was: it is stored as low-rank factors, which native rules do "
                         "not transform (kernels transform each factor)", step.rules, current.name));
        continue;
      }
      std::vector<double> params;
      std::vector<RuleArgument> args;  // native steps: bound once, used for the key and the run
      if (step.kernel) {
        auto kernel_params = params_for(step, current.name, config);
        if (!kernel_params) return kernel_params.error();
        params = std::move(*kernel_params);
      } else {
        auto bound = native_args(step, current.name, config);
        if (!bound) return bound.error();
        args = std::move(*bound);
        params = argument_key(args);
      }
      auto [entry, fresh] = chain.try_emplace(current.name, model_chain);
      entry->second.insert(entry->second.end(), params.begin(), params.end());
      auto key = std::make_pair(std::to_string(s) + "#" + current.name, entry->second);
      auto cached = cache_.find(key);
      if (cached == cache_.end()) {
        Expected<TensorResult> result = Error{""};
        auto start = std::chrono::steady_clock::now();
        if (!step.kernel) result = run_native_tensor(step, current, args);
        else if (current.encoding == Encoding::LowRank) result = run_kernel_on_factors(step, current, params);
        else result = run_kernel(step, current, params);
        kernel_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (!result) return result.error();
        cached = cache_.emplace(std::move(key), std::move(*result)).first;
      }
      current = cached->second;
    }
  }
  return model;
}

}  // namespace kmr::engine
