// The mini-batch loop: shuffle, gather, forward, loss, backward, Adam step.
#include "runtime/mlp_training.h"

#include <algorithm>
#include <numeric>

#include "runtime/mlp_gradients.h"

namespace kmr::runtime {

kmr::Expected<EpochStats> train_epoch(Mlp& model, AdamOptimizer& optimizer, const Dataset& data,
                                      std::int64_t batch_size, Rng& rng) {
  if (model.layers.empty()) return kmr::Error{"train: the model has no layers"};
  if (batch_size <= 0) return kmr::Error{"train: batch size must be positive"};
  const Eigen::Index inputs = model.layers.front().weight.cols();
  const Eigen::Index classes = model.layers.back().weight.rows();
  if (data.features != inputs) {
    return kmr::Error{"train: the data has " + std::to_string(data.features) + " features but the model takes " +
                      std::to_string(inputs) + " inputs"};
  }
  for (std::int32_t label : data.labels) {
    if (label < 0 || label >= classes) {
      return kmr::Error{"train: label " + std::to_string(label) + " is outside the model's " + std::to_string(classes) +
                        " outputs"};
    }
  }

  std::vector<std::int64_t> order(static_cast<std::size_t>(data.count));
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);

  EpochStats stats;
  double loss_sum = 0.0;
  MlpTrace trace;
  Matrix batch;
  Matrix dlogits;
  std::vector<std::int32_t> labels;
  for (std::int64_t first = 0; first < data.count; first += batch_size) {
    const std::int64_t n = std::min(batch_size, data.count - first);
    batch.resize(n, inputs);
    labels.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t example = order[static_cast<std::size_t>(first + i)];
      batch.row(i) = Eigen::Map<const Eigen::RowVectorXf>(data.inputs.data() + example * data.features, inputs);
      labels[static_cast<std::size_t>(i)] = data.labels[static_cast<std::size_t>(example)];
    }
    const Matrix logits = mlp_forward_traced(model, batch, trace);
    loss_sum += softmax_cross_entropy(logits, labels.data(), &dlogits) * static_cast<double>(n);
    const std::vector<std::int32_t> predicted = argmax_rows(logits);
    for (std::int64_t i = 0; i < n; ++i)
      stats.correct += predicted[static_cast<std::size_t>(i)] == labels[static_cast<std::size_t>(i)];
    optimizer.step(model, mlp_backward(model, trace, dlogits));
    stats.examples += n;
  }
  stats.mean_loss = stats.examples > 0 ? loss_sum / static_cast<double>(stats.examples) : 0.0;
  return stats;
}

}  // namespace kmr::runtime
