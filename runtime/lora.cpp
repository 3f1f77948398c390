// LoRA forward and backward passes and the adapter training loop; Adam is reused by holding
// the adapters as the weights of a bias-less parameter Mlp while it steps.
#include "runtime/lora.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/activation_derivative.h"
#include "runtime/adam_optimizer.h"
#include "runtime/mlp_gradients.h"
#include "runtime/random.h"

namespace kmr::runtime {
namespace {

// One adapted layer: mlp_forward's x Wᵀ + b, then the adapter's scale · (x Aᵀ) Bᵀ.
Matrix adapted_linear(const DenseLayer& layer, const LoraAdapter& adapter, float scale, const Matrix& x,
                      Matrix& projected) {
  Matrix z = x * layer.weight.transpose();
  z.rowwise() += layer.bias.transpose();
  projected = x * adapter.a.transpose();
  z.noalias() += scale * (projected * adapter.b.transpose());
  return z;
}

kmr::Status check_fit(const Mlp& base, const Dataset& data) {
  const std::int64_t inputs = base.layers.front().weight.cols();
  const std::int64_t classes = base.layers.back().weight.rows();
  if (data.count <= 0) return kmr::Error{"lora: the data set is empty"};
  if (data.features != inputs) {
    return kmr::Error{"lora: the data has " + std::to_string(data.features) + " features but the model takes " +
                      std::to_string(inputs) + " inputs"};
  }
  for (std::int32_t label : data.labels) {
    if (label < 0 || label >= classes) {
      return kmr::Error{"lora: label " + std::to_string(label) + " is outside the model's " + std::to_string(classes) +
                        " outputs"};
    }
  }
  return kmr::Status::success();
}

}  // namespace

LoraModel init_lora(const Mlp& base, std::int64_t rank, float alpha, std::uint64_t seed) {
  LoraModel model;
  model.base = base;
  model.scale = (alpha > 0.0f ? alpha : static_cast<float>(rank)) / static_cast<float>(rank);
  Rng rng(seed);
  for (const DenseLayer& layer : base.layers) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(layer.weight.cols()));
    LoraAdapter adapter;
    adapter.a.resize(rank, layer.weight.cols());
    for (Eigen::Index i = 0; i < adapter.a.size(); ++i) adapter.a.data()[i] = (2.0f * rng.uniform01() - 1.0f) * bound;
    adapter.b = Matrix::Zero(layer.weight.rows(), rank);
    model.adapters.push_back(std::move(adapter));
  }
  return model;
}

Matrix lora_forward_traced(const LoraModel& model, const Matrix& inputs, LoraTrace& trace) {
  const std::size_t n = model.base.layers.size();
  trace.inputs.clear();
  trace.pre.clear();
  trace.projected.clear();
  Matrix x = inputs;
  for (std::size_t l = 0; l < n; ++l) {
    Matrix projected;
    Matrix z = adapted_linear(model.base.layers[l], model.adapters[l], model.scale, x, projected);
    trace.inputs.push_back(std::move(x));
    trace.projected.push_back(std::move(projected));
    trace.pre.push_back(z);
    if (l + 1 < n) apply_activation(model.base.act, z);
    x = std::move(z);
  }
  return x;
}

Matrix lora_forward(const LoraModel& model, const Matrix& inputs) {
  LoraTrace trace;
  return lora_forward_traced(model, inputs, trace);
}

LoraGradients lora_backward(const LoraModel& model, const LoraTrace& trace, const Matrix& dlogits) {
  const std::size_t n = model.base.layers.size();
  LoraGradients grads;
  grads.a.resize(n);
  grads.b.resize(n);
  Matrix delta = dlogits;  // d loss / d z_l for the layer being processed
  for (std::size_t l = n; l-- > 0;) {
    const LoraAdapter& adapter = model.adapters[l];
    const Matrix delta_b = delta * adapter.b;  // [batch, rank]
    grads.b[l].noalias() = model.scale * (delta.transpose() * trace.projected[l]);
    grads.a[l].noalias() = model.scale * (delta_b.transpose() * trace.inputs[l]);
    if (l > 0) {
      Matrix upstream = delta * model.base.layers[l].weight;
      upstream.noalias() += model.scale * (delta_b * adapter.a);
      scale_by_activation_derivative(model.base.act, trace.pre[l - 1], upstream);
      delta = std::move(upstream);
    }
  }
  return grads;
}

Mlp merge_lora(const LoraModel& model) {
  Mlp merged = model.base;
  for (std::size_t l = 0; l < merged.layers.size(); ++l) {
    const LoraAdapter& adapter = model.adapters[l];
    merged.layers[l].weight += model.scale * (adapter.b * adapter.a);
  }
  return merged;
}

kmr::Expected<LoraModel> lora(const Mlp& base, const Dataset& data, const LoraSettings& s,
                              const LoraCallback& progress) {
  if (base.layers.empty()) return kmr::Error{"lora: the model has no layers"};
  if (s.rank < 1) return kmr::Error{"lora: rank must be at least 1, not " + std::to_string(s.rank)};
  if (!(s.alpha >= 0.0f) || !std::isfinite(s.alpha)) return kmr::Error{"lora: alpha must be finite and >= 0"};
  if (s.steps < 0) return kmr::Error{"lora: steps must not be negative"};
  if (!(s.learning_rate > 0.0f) || !std::isfinite(s.learning_rate)) {
    return kmr::Error{"lora: the learning rate must be positive and finite"};
  }
  if (s.batch_size <= 0) return kmr::Error{"lora: batch size must be positive"};
  if (s.report_every <= 0) return kmr::Error{"lora: report_every must be positive"};
  if (kmr::Status ok = check_fit(base, data); !ok) return ok.error();

  LoraModel model = init_lora(base, s.rank, s.alpha, s.seed);
  const std::size_t layers = model.adapters.size();
  // AdamOptimizer steps an Mlp's weights and biases: the adapters become the weights
  // (A_l at 2l, B_l at 2l + 1) of a parameter Mlp with empty biases.
  Mlp params;
  for (const LoraAdapter& adapter : model.adapters) {
    params.layers.push_back(DenseLayer{adapter.a, Eigen::VectorXf()});
    params.layers.push_back(DenseLayer{adapter.b, Eigen::VectorXf()});
  }
  AdamOptimizer optimizer(params, AdamSettings{s.learning_rate});
  auto swap_adapters = [&] {
    for (std::size_t l = 0; l < layers; ++l) {
      std::swap(model.adapters[l].a, params.layers[2 * l].weight);
      std::swap(model.adapters[l].b, params.layers[2 * l + 1].weight);
    }
  };
  MlpGradients adam_grads;
  adam_grads.weight.resize(2 * layers);
  adam_grads.bias.assign(2 * layers, Eigen::VectorXf());

  const Eigen::Index inputs = data.features;
  Rng shuffle(s.seed ^ 0x5eed5eed5eed5eedull);
  std::vector<std::int64_t> order;
  std::int64_t next = data.count;  // position in `order`; a full pass draws a new one
  LoraTrace trace;
  Matrix batch, dlogits;
  std::vector<std::int32_t> labels;
  double loss_sum = 0.0;
  std::int64_t correct = 0, seen = 0;
  for (std::int64_t step = 1; step <= s.steps; ++step) {
    if (next >= data.count) {
      order.resize(static_cast<std::size_t>(data.count));
      std::iota(order.begin(), order.end(), 0);
      shuffle.shuffle(order);
      next = 0;
    }
    const std::int64_t n = std::min(s.batch_size, data.count - next);
    batch.resize(n, inputs);
    labels.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t example = order[static_cast<std::size_t>(next + i)];
      batch.row(i) = Eigen::Map<const Eigen::RowVectorXf>(data.inputs.data() + example * data.features, inputs);
      labels[static_cast<std::size_t>(i)] = data.labels[static_cast<std::size_t>(example)];
    }
    next += n;

    const Matrix logits = lora_forward_traced(model, batch, trace);
    loss_sum += softmax_cross_entropy(logits, labels.data(), &dlogits) * static_cast<double>(n);
    const std::vector<std::int32_t> predicted = argmax_rows(logits);
    for (std::int64_t i = 0; i < n; ++i)
      correct += predicted[static_cast<std::size_t>(i)] == labels[static_cast<std::size_t>(i)];
    seen += n;

    LoraGradients grads = lora_backward(model, trace, dlogits);
    for (std::size_t l = 0; l < layers; ++l) {
      adam_grads.weight[2 * l] = std::move(grads.a[l]);
      adam_grads.weight[2 * l + 1] = std::move(grads.b[l]);
    }
    swap_adapters();
    optimizer.step(params, adam_grads);
    swap_adapters();

    if (progress && (step % s.report_every == 0 || step == s.steps)) {
      LoraProgress p;
      p.step = step;
      p.steps = s.steps;
      p.mean_loss = loss_sum / static_cast<double>(seen);
      p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      progress(p, model);
      loss_sum = 0.0;
      correct = seen = 0;
    }
  }
  return model;
}

ModelForward forward_of(const LoraModel& model) {
  ModelForward f;
  f.widths = model.base.arch().widths;
  f.layer_outputs = [&model](const Matrix& batch, std::vector<Matrix>& out) {
    const std::size_t n = model.base.layers.size();
    out.resize(n);
    Matrix x = batch;
    Matrix projected;
    for (std::size_t l = 0; l < n; ++l) {
      Matrix z = adapted_linear(model.base.layers[l], model.adapters[l], model.scale, x, projected);
      out[l] = z;
      if (l + 1 < n) apply_activation(model.base.act, z);
      x = std::move(z);
    }
  };
  return f;
}

std::vector<TensorToWrite> lora_tensors(const LoraModel& model) {
  std::vector<TensorToWrite> out;
  for (std::size_t l = 0; l < model.adapters.size(); ++l) {
    const LoraAdapter& adapter = model.adapters[l];
    const std::string prefix = "fc" + std::to_string(l + 1);
    for (const auto& [name, m] : {std::pair<std::string, const Matrix*>{prefix + ".lora_A.weight", &adapter.a},
                                  std::pair<std::string, const Matrix*>{prefix + ".lora_B.weight", &adapter.b}}) {
      out.push_back(
          {name,
           DType::F32,
           {m->rows(), m->cols()},
           {reinterpret_cast<const std::uint8_t*>(m->data()), static_cast<std::size_t>(m->size()) * sizeof(float)}});
    }
  }
  return out;
}

}  // namespace kmr::runtime
