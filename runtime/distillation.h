// Knowledge distillation: training a fresh student MLP on a teacher's softened outputs and
// the labels.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/adam_optimizer.h"
#include "runtime/dataset.h"
#include "runtime/mlp.h"
#include "runtime/mlp_training.h"
#include "runtime/random.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The distillation loss of Hinton et al. (2015), averaged over a batch of B examples with
/// student logits s, teacher logits t, labels y and temperature T:
///
///     p = softmax(t / T),   q = softmax(s / T)
///     KL = Σ_c p_c (log p_c − log q_c)                       (terms with p_c = 0 are 0)
///     CE = −log softmax(s)_y                                   (temperature 1)
///     loss = (1/B) Σ_examples [ alpha · T² · KL + (1 − alpha) · CE ]
///
/// and its gradient with respect to the student's logits, per example:
///
///     d loss / d s = (1/B) [ alpha · T · (q − p) + (1 − alpha) · (softmax(s) − onehot(y)) ]
///
/// (the T² keeps the soft term's gradient on the scale of the hard term's as T grows).
/// The CE part and its gradient are softmax_cross_entropy's own bits; the KL part is
/// computed in double and skipped entirely when alpha is 0 (and the CE part when alpha is
/// 1), so alpha = 0 gives exactly softmax_cross_entropy's loss and gradient.
/// Returns the loss; stores the gradient in `dlogits` when given.
/// Preconditions: the logits have one shape, labels lie in [0, columns), temperature > 0,
/// alpha in [0, 1].
double distillation_loss(const Matrix& student_logits, const Matrix& teacher_logits, const std::int32_t* labels,
                         double temperature, double alpha, Matrix* dlogits);

/// One shuffled pass over `data` as train_epoch makes it (same order from `rng`, same
/// batches, an Adam step after each), on distillation_loss against `teacher_logits`
/// [data.count, classes] (row i belongs to example i). Statistics are taken on the batches
/// as trained; mean_loss is the mean distillation loss.
/// Fails when the data does not fit the student or the teacher logits, or a setting is out
/// of range.
kmr::Expected<EpochStats> distill_epoch(Mlp& student, AdamOptimizer& optimizer, const Matrix& teacher_logits,
                                        const Dataset& data, double temperature, double alpha, std::int64_t batch_size,
                                        Rng& rng);

struct DistillSettings {
  std::vector<std::int64_t> hidden;  // the student's hidden widths, e.g. {64, 32}
  double temperature = 4.0;          // T > 0
  double alpha = 0.7;                // weight of the soft term, in [0, 1]
  int epochs = 3;                    // >= 0
  float learning_rate = 1e-3f;       // Adam, constant
  std::uint64_t seed = 0;
  std::int64_t batch_size = 128;
};

/// What the progress callback sees after each epoch.
struct DistillProgress {
  int epoch = 0;  // 1-based
  int epochs = 0;
  double mean_loss = 0.0;  // distillation loss on the batches as trained
  double accuracy = 0.0;   // top-1 on the batches as trained, before each update
};

/// Called after every epoch with the student as it stands (e.g. to measure test accuracy).
using DistillCallback = std::function<void(const DistillProgress& progress, const Mlp& student)>;

/// Trains a fresh student MLP: widths {teacher input, hidden..., teacher output}, the
/// teacher's activation, initialised by init_mlp(arch, seed); examples shuffled by
/// Rng(seed ^ 0x5eed5eed5eed5eed) as examples/fashion_mnist/train_mlp does; `epochs`
/// distill_epoch passes with Adam (default betas) at a constant learning rate. The
/// teacher's logits are computed once, before training, by model_logits.
/// Deterministic: with one Eigen thread the student is the same bits on every run; with
/// alpha 0 (at any temperature) it is exactly the model that train_epoch produces from the
/// same initialisation, optimiser and shuffling Rng.
/// Fails (naming the setting) when the teacher has no layers, the data is empty or does
/// not fit the teacher (features, a label beyond its outputs), a hidden width is not
/// positive, T is not positive and finite, alpha is outside [0, 1], epochs is negative,
/// the learning rate is not positive or the batch size is not positive.
kmr::Expected<Mlp> distill(const Mlp& teacher, const Dataset& data, const DistillSettings& settings,
                           const DistillCallback& progress = {});

}  // namespace kmr::runtime
