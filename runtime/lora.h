// LoRA: low-rank adapters trained beside the frozen weights of an MLP to recover accuracy
// lost by compression.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/batched_forward.h"
#include "runtime/dataset.h"
#include "runtime/mlp.h"
#include "runtime/safetensors_writer.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The adapter of one layer with weight W [out, in]: the layer computes
/// y = x Wᵀ + b + scale · (x Aᵀ) Bᵀ, i.e. uses W + scale · B A.
struct LoraAdapter {
  Matrix a;  // [rank, in]
  Matrix b;  // [out, rank]
};

/// A frozen base model with an adapter beside every layer (Hu et al., 2021). Only the
/// adapters train; the base's weights and biases never change. The base may hold any dense
/// weights, e.g. dequantised compressed tensors.
struct LoraModel {
  Mlp base;
  std::vector<LoraAdapter> adapters;  // one per layer of `base`
  float scale = 1.0f;                 // alpha / rank
};

/// Adapters of rank `rank` on every layer: A uniform in ±1/sqrt(in) (torch.nn.Linear's
/// bound), drawn from Rng(seed) layer by layer, row-major; B zero, so the model starts
/// out computing exactly what `base` computes. scale = alpha / rank, with alpha = rank
/// (scale 1) when `alpha` is 0. Preconditions: rank >= 1, base has layers, alpha >= 0.
LoraModel init_lora(const Mlp& base, std::int64_t rank, float alpha, std::uint64_t seed);

/// What the forward pass keeps for the backward pass.
struct LoraTrace {
  std::vector<Matrix> inputs;     // inputs[l]: the input x of layer l
  std::vector<Matrix> pre;        // pre[l]: the layer's output before its activation
  std::vector<Matrix> projected;  // projected[l]: x Aᵀ [batch, rank]
};

/// Logits of the adapted model: per layer z = x Wᵀ + b, then z += scale · (x Aᵀ) Bᵀ; the
/// first two steps are mlp_forward's own, so with B = 0 the logits equal the base's.
/// Precondition: inputs.cols() equals the input width.
Matrix lora_forward(const LoraModel& model, const Matrix& inputs);
/// lora_forward that also fills `trace`.
Matrix lora_forward_traced(const LoraModel& model, const Matrix& inputs, LoraTrace& trace);

/// Gradients of the adapters (the base is frozen), shaped like them.
struct LoraGradients {
  std::vector<Matrix> a;
  std::vector<Matrix> b;
};

/// Backpropagates `dlogits` (d loss / d logits) through the adapted model recorded in
/// `trace`. With δ_l = d loss / d z_l [batch, out]:
///     dB_l = scale · δ_lᵀ (x_l Aᵀ),  dA_l = scale · (δ_l B)ᵀ x_l,
///     d loss / d x_l = δ_l W + scale · (δ_l B) A,
/// never forming a full [out, in] weight gradient.
LoraGradients lora_backward(const LoraModel& model, const LoraTrace& trace, const Matrix& dlogits);

/// The dense model the adapters stand for: each W replaced by W + scale · B A.
Mlp merge_lora(const LoraModel& model);

struct LoraSettings {
  std::int64_t rank = 8;     // >= 1
  float alpha = 0.0f;        // the scale's numerator; 0 means alpha = rank (scale 1)
  std::int64_t steps = 100;  // Adam steps, one minibatch each; >= 0
  float learning_rate = 1e-3f;
  std::uint64_t seed = 0;
  std::int64_t batch_size = 128;
  std::int64_t report_every = 100;  // steps between progress reports (and the last step)
};

/// What the progress callback sees.
struct LoraProgress {
  std::int64_t step = 0;  // steps done
  std::int64_t steps = 0;
  double mean_loss = 0.0;  // mean cross-entropy of the batches since the last report
  double accuracy = 0.0;   // top-1 on those batches, before each update
};
using LoraCallback = std::function<void(const LoraProgress& progress, const LoraModel& model)>;

/// Trains adapters of `settings.rank` beside every frozen weight of `base` on mean softmax
/// cross-entropy against the labels: init_lora(base, rank, alpha, seed), then `steps`
/// Adam steps (default betas, constant learning rate) over minibatches of `batch_size`
/// taken in order from a permutation drawn from Rng(seed ^ 0x5eed5eed5eed5eed), redrawn
/// after each full pass (the pass's last batch may be shorter). Deterministic: the same
/// bits on every run with one Eigen thread. steps = 0 returns the initial adapters (B = 0).
/// Fails (naming the setting) when the base has no layers, the data is empty or does not
/// fit (features, a label beyond the outputs), or a setting is out of range.
kmr::Expected<LoraModel> lora(const Mlp& base, const Dataset& data, const LoraSettings& settings,
                              const LoraCallback& progress = {});

/// The adapted forward pass for evaluators. Refers to `model`: valid while it lives
/// unchanged.
ModelForward forward_of(const LoraModel& model);

/// The adapters as F32 tensors named as PEFT names them: fcN.lora_A.weight [rank, in] and
/// fcN.lora_B.weight [out, rank], viewing the model's memory (valid while it lives
/// unchanged). The scale is not a tensor: record it beside them (e.g. in __metadata__).
std::vector<TensorToWrite> lora_tensors(const LoraModel& model);

}  // namespace kmr::runtime
