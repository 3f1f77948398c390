// Loss and backpropagation for Mlp: what training rules (fit, distill, LoRA) build on.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/mlp.h"

namespace kmr::runtime {

/// What the forward pass keeps for the backward pass.
struct MlpTrace {
  std::vector<Matrix> inputs;  // inputs[l]: the input of layer l (inputs[0] is the batch)
  std::vector<Matrix> pre;     // pre[l]: x Wᵀ + b of layer l, before the activation
};

/// Gradients with the shapes of the model's weights and biases.
struct MlpGradients {
  std::vector<Matrix> weight;
  std::vector<Eigen::VectorXf> bias;
};

/// mlp_forward that also records `trace` for mlp_backward. Returns the logits.
Matrix mlp_forward_traced(const Mlp& model, const Matrix& inputs, MlpTrace& trace);

/// Mean softmax cross-entropy of `logits` [batch, classes] against `labels` (batch of them,
/// each in [0, classes)). When `dlogits` is given, stores d(loss)/d(logits) there.
/// Computed stably (max-shifted), summed in double.
double softmax_cross_entropy(const Matrix& logits, const std::int32_t* labels, Matrix* dlogits);

/// Backpropagates `dlogits` through the model recorded in `trace`.
MlpGradients mlp_backward(const Mlp& model, const MlpTrace& trace, const Matrix& dlogits);

}  // namespace kmr::runtime
