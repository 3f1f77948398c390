// Supervised training of an Mlp on a Dataset, one shuffled epoch at a time.
#pragma once

#include <cstdint>

#include "runtime/adam_optimizer.h"
#include "runtime/dataset.h"
#include "runtime/mlp.h"
#include "runtime/random.h"
#include "support/expected.h"

namespace kmr::runtime {

/// What one epoch saw, measured on the mini-batches as they were trained (before each
/// update), so it costs no extra forward pass.
struct EpochStats {
  double mean_loss = 0.0;
  std::int64_t correct = 0;
  std::int64_t examples = 0;
};

/// One pass over `data` in an order drawn from `rng`, in mini-batches of `batch_size` (the
/// last one smaller), each followed by an optimiser step on the mean cross-entropy.
/// Deterministic for a given rng state when Eigen runs on one thread.
/// Fails when the data does not fit the model (feature count, a label ≥ output width) or
/// batch_size is not positive.
kmr::Expected<EpochStats> train_epoch(Mlp& model, AdamOptimizer& optimizer, const Dataset& data,
                                      std::int64_t batch_size, Rng& rng);

}  // namespace kmr::runtime
