// MLP architecture inference, weight loading and inference on Eigen.
#include "runtime/mlp.h"

#include <cmath>
#include <functional>
#include <map>

#include "runtime/random.h"

namespace kmr::runtime {
namespace {

struct LayerTensors {
  const TensorInfo* weight = nullptr;
  const TensorInfo* bias = nullptr;
};

// "fc12.weight" -> (12, weight); anything else (including "fc01" or "fc1.weight_scale") -> nullopt.
std::optional<std::pair<std::int64_t, bool>> parse_layer_name(const std::string& name) {
  if (name.size() < 3 || name.compare(0, 2, "fc") != 0) return std::nullopt;
  std::size_t pos = 2;
  std::int64_t number = 0;
  while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') {
    if (pos - 2 >= 9) return std::nullopt;  // absurd layer counts are not MLP tensors
    number = number * 10 + (name[pos] - '0');
    ++pos;
  }
  if (pos == 2 || (name[2] == '0' && pos > 3)) return std::nullopt;
  const std::string_view rest(name.data() + pos, name.size() - pos);
  if (rest == ".weight") return std::make_pair(number, true);
  if (rest == ".bias") return std::make_pair(number, false);
  return std::nullopt;
}

std::string describe(const TensorInfo& t) { return t.name + " " + shape_string(t.shape); }

using F32Source = std::function<kmr::Expected<std::vector<float>>(const TensorInfo&)>;

kmr::Expected<Mlp> load_with(const std::vector<TensorInfo>& tensors, Activation act, const F32Source& to_f32,
                             const std::function<const TensorInfo*(const std::string&)>& find) {
  kmr::Expected<MlpArch> arch = infer_mlp(tensors, act);
  if (!arch) return arch.error();
  Mlp model;
  model.act = act;
  for (std::size_t l = 0; l + 1 < arch->widths.size(); ++l) {
    const std::string prefix = "fc" + std::to_string(l + 1);
    kmr::Expected<std::vector<float>> w = to_f32(*find(prefix + ".weight"));
    if (!w) return w.error();
    kmr::Expected<std::vector<float>> b = to_f32(*find(prefix + ".bias"));
    if (!b) return b.error();
    DenseLayer layer;
    layer.weight = Eigen::Map<const Matrix>(w->data(), arch->widths[l + 1], arch->widths[l]);
    layer.bias = Eigen::Map<const Eigen::VectorXf>(b->data(), arch->widths[l + 1]);
    model.layers.push_back(std::move(layer));
  }
  return model;
}

}  // namespace

std::string_view activation_name(Activation act) {
  switch (act) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    case Activation::tanh:
      return "tanh";
  }
  return "relu";
}

std::optional<Activation> parse_activation(std::string_view name) {
  for (Activation a : {Activation::relu, Activation::gelu, Activation::tanh}) {
    if (activation_name(a) == name) return a;
  }
  return std::nullopt;
}

kmr::Expected<MlpArch> infer_mlp(const std::vector<TensorInfo>& tensors, Activation act) {
  std::map<std::int64_t, LayerTensors> layers;
  for (const TensorInfo& t : tensors) {
    auto parsed = parse_layer_name(t.name);
    if (!parsed) continue;
    if (parsed->first == 0) return kmr::Error{"tensor '" + t.name + "': MLP layers are numbered from fc1"};
    LayerTensors& layer = layers[parsed->first];
    (parsed->second ? layer.weight : layer.bias) = &t;
  }
  if (layers.empty()) return kmr::Error{"no MLP layers: expected tensors fc1.weight, fc1.bias, ..."};

  MlpArch arch;
  arch.act = act;
  std::int64_t expected_number = 1;
  const TensorInfo* previous = nullptr;
  for (const auto& [number, layer] : layers) {
    const std::string prefix = "fc" + std::to_string(number);
    if (number != expected_number) {
      return kmr::Error{"MLP layers must be numbered contiguously: found " + prefix + " but no fc" +
                        std::to_string(expected_number)};
    }
    ++expected_number;
    if (layer.weight == nullptr) return kmr::Error{prefix + ".bias has no matching " + prefix + ".weight"};
    if (layer.bias == nullptr) return kmr::Error{prefix + ".weight has no matching " + prefix + ".bias"};
    const TensorInfo& w = *layer.weight;
    const TensorInfo& b = *layer.bias;
    for (const TensorInfo* t : {&w, &b}) {
      if (!dtype_converts_to_f32(t->dtype)) {
        return kmr::Error{"tensor '" + t->name + "' has dtype " + std::string(dtype_name(t->dtype)) +
                          "; MLP weights must be floats"};
      }
    }
    if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0) {
      return kmr::Error{"tensor " + describe(w) + " must be a matrix [out, in] with positive sizes"};
    }
    if (b.shape.size() != 1 || b.shape[0] != w.shape[0]) {
      return kmr::Error{"tensor " + describe(b) + " does not match " + describe(w) + ": expected [" +
                        std::to_string(w.shape[0]) + "]"};
    }
    if (previous == nullptr) {
      arch.widths.push_back(w.shape[1]);
    } else if (previous->shape[0] != w.shape[1]) {
      return kmr::Error{"tensor " + describe(w) + " takes " + std::to_string(w.shape[1]) + " inputs but " +
                        describe(*previous) + " produces " + std::to_string(previous->shape[0])};
    }
    arch.widths.push_back(w.shape[0]);
    previous = &w;
  }
  return arch;
}

MlpArch Mlp::arch() const {
  MlpArch a;
  a.act = act;
  if (layers.empty()) return a;
  a.widths.push_back(layers.front().weight.cols());
  for (const DenseLayer& layer : layers) a.widths.push_back(layer.weight.rows());
  return a;
}

Mlp init_mlp(const MlpArch& arch, std::uint64_t seed) {
  Rng rng(seed);
  Mlp model;
  model.act = arch.act;
  for (std::size_t l = 0; l + 1 < arch.widths.size(); ++l) {
    const std::int64_t in = arch.widths[l];
    const std::int64_t out = arch.widths[l + 1];
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    DenseLayer layer;
    layer.weight.resize(out, in);
    layer.bias.resize(out);
    for (Eigen::Index i = 0; i < layer.weight.size(); ++i)
      layer.weight.data()[i] = (2.0f * rng.uniform01() - 1.0f) * bound;
    for (Eigen::Index i = 0; i < layer.bias.size(); ++i) layer.bias[i] = (2.0f * rng.uniform01() - 1.0f) * bound;
    model.layers.push_back(std::move(layer));
  }
  return model;
}

kmr::Expected<Mlp> load_mlp(const SafetensorsFile& file, Activation act) {
  return load_with(
      file.tensors(), act, [&](const TensorInfo& t) { return file.to_f32(t); },
      [&](const std::string& name) { return file.find(name); });
}

kmr::Expected<Mlp> load_mlp(const ShardedCheckpoint& checkpoint, Activation act) {
  return load_with(
      checkpoint.tensors(), act, [&](const TensorInfo& t) { return checkpoint.to_f32(t); },
      [&](const std::string& name) { return checkpoint.find(name); });
}

std::vector<TensorToWrite> mlp_tensors(const Mlp& model) {
  std::vector<TensorToWrite> out;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    const std::string prefix = "fc" + std::to_string(l + 1);
    out.push_back({prefix + ".weight",
                   DType::F32,
                   {layer.weight.rows(), layer.weight.cols()},
                   {reinterpret_cast<const std::uint8_t*>(layer.weight.data()),
                    static_cast<std::size_t>(layer.weight.size()) * sizeof(float)}});
    out.push_back({prefix + ".bias",
                   DType::F32,
                   {layer.bias.size()},
                   {reinterpret_cast<const std::uint8_t*>(layer.bias.data()),
                    static_cast<std::size_t>(layer.bias.size()) * sizeof(float)}});
  }
  return out;
}

void apply_activation(Activation act, Matrix& z) {
  switch (act) {
    case Activation::relu:
      z = z.cwiseMax(0.0f);
      break;
    case Activation::tanh:
      z = z.array().tanh().matrix();
      break;
    case Activation::gelu:  // exact (erf) GELU, torch.nn.GELU's default
      z = z.unaryExpr([](float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); });
      break;
  }
}

Matrix mlp_forward(const Mlp& model, const Matrix& inputs) {
  Matrix x = inputs;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    Matrix z = x * layer.weight.transpose();
    z.rowwise() += layer.bias.transpose();
    if (l + 1 < model.layers.size()) apply_activation(model.act, z);
    x = std::move(z);
  }
  return x;
}

std::vector<std::int32_t> argmax_rows(const Matrix& logits) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(logits.rows()));
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    for (Eigen::Index c = 1; c < logits.cols(); ++c) {
      if (logits(r, c) > logits(r, best)) best = c;
    }
    out[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(best);
  }
  return out;
}

Matrix dataset_rows(const Dataset& data, std::int64_t first, std::int64_t count) {
  return Eigen::Map<const Matrix>(data.inputs.data() + first * data.features, count, data.features);
}

kmr::Expected<double> top1_accuracy(const Mlp& model, const Dataset& data, std::int64_t batch_size) {
  if (model.layers.empty()) return kmr::Error{"top1: the model has no layers"};
  if (data.features != model.layers.front().weight.cols()) {
    return kmr::Error{"top1: the data has " + std::to_string(data.features) + " features but the model takes " +
                      std::to_string(model.layers.front().weight.cols()) + " inputs"};
  }
  if (data.count == 0) return kmr::Error{"top1: the data set is empty"};
  if (batch_size <= 0) return kmr::Error{"top1: batch size must be positive"};
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < data.count; first += batch_size) {
    const std::int64_t n = std::min(batch_size, data.count - first);
    const std::vector<std::int32_t> predicted = argmax_rows(mlp_forward(model, dataset_rows(data, first, n)));
    for (std::int64_t i = 0; i < n; ++i)
      correct += predicted[static_cast<std::size_t>(i)] == data.labels[static_cast<std::size_t>(first + i)];
  }
  return static_cast<double>(correct) / static_cast<double>(data.count);
}

}  // namespace kmr::runtime
