// Batch loops over OpenMP threads; Eigen's own parallel products are avoided inside them.
#include "runtime/batched_forward.h"

#include <algorithm>
#include <string>

namespace kmr::runtime {

ModelForward forward_of(const Mlp& model) {
  ModelForward f;
  f.widths = model.arch().widths;
  f.layer_outputs = [&model](const Matrix& batch, std::vector<Matrix>& out) {
    out.resize(model.layers.size());
    // The same operations as mlp_forward, so the logits are its bits.
    Matrix x = batch;
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      const DenseLayer& layer = model.layers[l];
      Matrix z = x * layer.weight.transpose();
      z.rowwise() += layer.bias.transpose();
      out[l] = z;
      if (l + 1 < model.layers.size()) apply_activation(model.act, z);
      x = std::move(z);
    }
  };
  return f;
}

void for_each_batch(std::int64_t count, std::int64_t batch_size,
                    const std::function<void(std::int64_t batch, std::int64_t first, std::int64_t n)>& visit) {
  const std::int64_t batches = count > 0 ? (count + batch_size - 1) / batch_size : 0;
#ifdef _OPENMP
  // In a team of more than one thread Eigen computes each product on the calling thread with
  // its single-thread blocking; with one thread, nbThreads() is 1 and it does the same. So a
  // batch's bits do not depend on the thread count. The team is not shrunk to the number of
  // batches: a team of one would let Eigen parallelise (and re-block) the products inside.
  const int threads = Eigen::nbThreads();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t first = b * batch_size;
    visit(b, first, std::min(batch_size, count - first));
  }
#else
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t first = b * batch_size;
    visit(b, first, std::min(batch_size, count - first));
  }
#endif
}

kmr::Expected<Matrix> model_logits(const ModelForward& model, const Dataset& data, std::int64_t batch_size) {
  if (data.features != model.inputs()) {
    return kmr::Error{"the data has " + std::to_string(data.features) + " features but the model takes " +
                      std::to_string(model.inputs()) + " inputs"};
  }
  if (batch_size <= 0) return kmr::Error{"batch size must be positive"};
  Matrix logits(data.count, model.outputs());
  for_each_batch(data.count, batch_size, [&](std::int64_t, std::int64_t first, std::int64_t n) {
    std::vector<Matrix> out;
    model.layer_outputs(dataset_rows(data, first, n), out);
    logits.middleRows(first, n) = out.back();
  });
  return logits;
}

}  // namespace kmr::runtime
