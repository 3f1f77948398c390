// Task meters of a model on data: top-1 accuracy, loss, agreement with a reference, and
// the drift of its layer outputs.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/batched_forward.h"
#include "runtime/dataset.h"
#include "runtime/mlp.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Every meter evaluates in batches of `batch_size` examples through for_each_batch: the
/// batches run in parallel on Eigen::nbThreads() threads, and per-batch sums are combined
/// in batch order in double, so a meter's value is the same bits for a given thread count
/// and agrees across thread counts to rounding (it depends on batch_size only through the
/// last bits of the products).
struct MeterOptions {
  std::int64_t batch_size = 1000;
};

/// Fraction of `data` whose top-1 prediction (the first largest logit) equals the label.
/// Fails when the data is empty, its feature count differs from the model's input width,
/// a label is outside the model's outputs, or batch_size is not positive.
kmr::Expected<double> top1(const ModelForward& model, const Dataset& data, const MeterOptions& options = {});
kmr::Expected<double> top1(const Mlp& model, const Dataset& data, const MeterOptions& options = {});

/// Mean softmax cross-entropy (natural log) of the model's logits against the labels, as
/// softmax_cross_entropy computes it per batch. Fails as top1 does.
kmr::Expected<double> loss(const ModelForward& model, const Dataset& data, const MeterOptions& options = {});
kmr::Expected<double> loss(const Mlp& model, const Dataset& data, const MeterOptions& options = {});

/// Fraction of `data` on which the two models' top-1 predictions are equal (labels are not
/// used). Fails when the data is empty or does not fit both models, or their output widths
/// differ.
kmr::Expected<double> agreement(const ModelForward& model, const ModelForward& reference, const Dataset& data,
                                const MeterOptions& options = {});
kmr::Expected<double> agreement(const Mlp& model, const Mlp& reference, const Dataset& data,
                                const MeterOptions& options = {});

/// The activation-aware drift of a compressed model from its reference.
struct OutputError {
  /// per_layer[l] = ‖Y_l − Y_l^ref‖_F / ‖Y_l^ref‖_F, where Y_l [examples, width_l] stacks
  /// the output of linear layer l (x Wᵀ + b, before its activation; the logits for the
  /// last layer) over all calibration inputs. Both models run end to end on the same
  /// inputs, so a layer's error includes the drift of the layers before it. When
  /// ‖Y_l^ref‖_F is 0 the entry is 0 if Y_l is 0 too, else +infinity.
  std::vector<double> per_layer;
  /// The unweighted mean of per_layer: what the `output_error` meter reports.
  double mean = 0.0;
};

/// Measures OutputError on the inputs of `calib` (labels are not used). Fails when the
/// calibration set is empty or does not fit, or the two models' widths differ.
kmr::Expected<OutputError> output_error(const ModelForward& model, const ModelForward& reference, const Dataset& calib,
                                        const MeterOptions& options = {});
kmr::Expected<OutputError> output_error(const Mlp& model, const Mlp& reference, const Dataset& calib,
                                        const MeterOptions& options = {});

}  // namespace kmr::runtime
