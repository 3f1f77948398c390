// Reverse-mode differentiation of Linear + activation stacks, batched as Eigen GEMMs.
#include "runtime/mlp_gradients.h"

#include <cmath>

#include "runtime/activation_derivative.h"

namespace kmr::runtime {

Matrix mlp_forward_traced(const Mlp& model, const Matrix& inputs, MlpTrace& trace) {
  trace.inputs.clear();
  trace.pre.clear();
  Matrix x = inputs;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    Matrix z = x * layer.weight.transpose();
    z.rowwise() += layer.bias.transpose();
    trace.inputs.push_back(std::move(x));
    trace.pre.push_back(z);
    if (l + 1 < model.layers.size()) apply_activation(model.act, z);
    x = std::move(z);
  }
  return x;
}

double softmax_cross_entropy(const Matrix& logits, const std::int32_t* labels, Matrix* dlogits) {
  const Eigen::Index batch = logits.rows();
  if (dlogits != nullptr) dlogits->resize(batch, logits.cols());
  double total = 0.0;
  for (Eigen::Index r = 0; r < batch; ++r) {
    const float shift = logits.row(r).maxCoeff();
    double sum = 0.0;
    for (Eigen::Index c = 0; c < logits.cols(); ++c) sum += std::exp(static_cast<double>(logits(r, c) - shift));
    const double log_sum = std::log(sum);
    total += log_sum - static_cast<double>(logits(r, labels[r]) - shift);
    if (dlogits != nullptr) {
      for (Eigen::Index c = 0; c < logits.cols(); ++c) {
        const double p = std::exp(static_cast<double>(logits(r, c) - shift) - log_sum);
        (*dlogits)(r, c) = static_cast<float>((p - (c == labels[r] ? 1.0 : 0.0)) / static_cast<double>(batch));
      }
    }
  }
  return batch > 0 ? total / static_cast<double>(batch) : 0.0;
}

MlpGradients mlp_backward(const Mlp& model, const MlpTrace& trace, const Matrix& dlogits) {
  const std::size_t n = model.layers.size();
  MlpGradients grads;
  grads.weight.resize(n);
  grads.bias.resize(n);
  Matrix delta = dlogits;  // d(loss)/d(pre[l]) for the layer being processed
  for (std::size_t l = n; l-- > 0;) {
    grads.weight[l].noalias() = delta.transpose() * trace.inputs[l];
    grads.bias[l] = delta.colwise().sum().transpose();
    if (l > 0) {
      Matrix upstream = delta * model.layers[l].weight;
      scale_by_activation_derivative(model.act, trace.pre[l - 1], upstream);
      delta = std::move(upstream);
    }
  }
  return grads;
}

}  // namespace kmr::runtime
