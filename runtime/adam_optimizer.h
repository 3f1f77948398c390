// The Adam optimiser over an Mlp's weights and biases.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/mlp.h"
#include "runtime/mlp_gradients.h"

namespace kmr::runtime {

struct AdamSettings {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  /// L1 shrinkage of the weight matrices (proximal step): after each update every weight
  /// moves learning_rate * l1 towards zero and stops there, so weights that the loss does
  /// not defend become exactly zero.
  float l1 = 0.0f;
};

/// Adam (Kingma & Ba) with bias correction, as torch.optim.Adam without weight decay, plus
/// optional L1 shrinkage of the weight matrices (the biases are never shrunk).
/// Moments start at zero with the shapes of the model it was made for.
class AdamOptimizer {
 public:
  AdamOptimizer(const Mlp& model, AdamSettings settings);

  const AdamSettings& settings() const { return settings_; }
  /// For learning-rate schedules; the moments are kept.
  void set_learning_rate(float lr) { settings_.learning_rate = lr; }
  std::int64_t steps() const { return steps_; }

  /// One update of `model` by `grads`. Precondition: both have the shapes of the model
  /// this optimiser was made for.
  void step(Mlp& model, const MlpGradients& grads);

 private:
  AdamSettings settings_;
  std::int64_t steps_ = 0;
  MlpGradients m_;  // first moments
  MlpGradients v_;  // second moments
};

}  // namespace kmr::runtime
