// Evaluating a model over many examples in batches, in parallel over batches, with results
// that do not depend on the number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/dataset.h"
#include "runtime/mlp.h"

namespace kmr::runtime {

/// A model as evaluators (meters, distillation) see it, whatever stores its weights: dense
/// (`Mlp`), factored (`FactoredMlp`, low_rank.h) or adapted (`LoraModel`, lora.h).
struct ModelForward {
  std::vector<std::int64_t> widths;  // input width, then each linear layer's output width
  /// Resizes `out` to layers() and stores in out[l] the output of linear layer l for
  /// `batch` [n, inputs()], before its activation (out.back() are the logits).
  /// Called from several threads at once: it must not modify shared state.
  std::function<void(const Matrix& batch, std::vector<Matrix>& out)> layer_outputs;

  std::int64_t inputs() const { return widths.front(); }
  std::int64_t outputs() const { return widths.back(); }
  std::int64_t layers() const { return static_cast<std::int64_t>(widths.size()) - 1; }
};

/// The dense model's forward pass, as mlp_forward computes it. Refers to `model`: valid
/// while it lives unchanged. Precondition: the model has at least one layer.
ModelForward forward_of(const Mlp& model);

/// Calls `visit(batch, first, n)` once for each batch of rows [first, first + n) that
/// splits [0, count) into runs of `batch_size` (the last one shorter), batch numbered from
/// 0. Batches are spread statically over Eigen::nbThreads() threads (OpenMP; serially
/// without it); inside `visit` Eigen's products run single-threaded, so whatever a visit
/// computes is the same bits for every thread count, and callers that combine per-batch
/// results in batch order are deterministic regardless of threads.
/// Precondition: count >= 0, batch_size > 0; `visit` may run concurrently for different
/// batches and must not throw.
void for_each_batch(std::int64_t count, std::int64_t batch_size,
                    const std::function<void(std::int64_t batch, std::int64_t first, std::int64_t n)>& visit);

/// Logits [count, outputs] of `model` for every example of `data`, in batches of
/// `batch_size` (threaded as for_each_batch). Fails when the data's feature count differs
/// from the model's input width or batch_size is not positive.
kmr::Expected<Matrix> model_logits(const ModelForward& model, const Dataset& data, std::int64_t batch_size = 1000);

}  // namespace kmr::runtime
