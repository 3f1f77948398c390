// Element-wise Adam updates; bias corrections are computed in double once per step.
#include "runtime/adam_optimizer.h"

#include <cmath>

namespace kmr::runtime {
namespace {

template <class Param, class Grad>
void update(Param& param, const Grad& grad, Grad& m, Grad& v, const AdamSettings& s, float step_size,
            float v_correction) {
  m = s.beta1 * m + (1.0f - s.beta1) * grad;
  v = s.beta2 * v + (1.0f - s.beta2) * grad.cwiseProduct(grad);
  // p -= lr_t * m / (sqrt(v / (1 - beta2^t)) + eps), with lr_t = lr / (1 - beta1^t)
  param.array() -= step_size * m.array() / ((v.array() * v_correction).sqrt() + s.epsilon);
}

}  // namespace

AdamOptimizer::AdamOptimizer(const Mlp& model, AdamSettings settings) : settings_(settings) {
  for (const DenseLayer& layer : model.layers) {
    m_.weight.push_back(Matrix::Zero(layer.weight.rows(), layer.weight.cols()));
    m_.bias.push_back(Eigen::VectorXf::Zero(layer.bias.size()));
  }
  v_ = m_;
}

void AdamOptimizer::step(Mlp& model, const MlpGradients& grads) {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const float step_size =
      static_cast<float>(settings_.learning_rate / (1.0 - std::pow(static_cast<double>(settings_.beta1), t)));
  const float v_correction = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(settings_.beta2), t)));
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    update(model.layers[l].weight, grads.weight[l], m_.weight[l], v_.weight[l], settings_, step_size, v_correction);
    if (settings_.l1 != 0.0f) {
      const float shrink = settings_.learning_rate * settings_.l1;
      model.layers[l].weight = model.layers[l].weight.unaryExpr(
          [shrink](float w) { return w > shrink ? w - shrink : (w < -shrink ? w + shrink : 0.0f); });
    }
    update(model.layers[l].bias, grads.bias[l], m_.bias[l], v_.bias[l], settings_, step_size, v_correction);
  }
}

}  // namespace kmr::runtime
