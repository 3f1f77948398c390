// Multi-layer perceptrons stored as fcN.weight / fcN.bias: architecture, weights, inference.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "runtime/dataset.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "runtime/sharded_checkpoint.h"
#include "runtime/tensor_info.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The nonlinearity between layers (none after the last one, which yields logits).
enum class Activation { relu, gelu, tanh };

/// "relu", "gelu" or "tanh".
std::string_view activation_name(Activation act);
std::optional<Activation> parse_activation(std::string_view name);

/// Layer widths from input to output, e.g. {784, 256, 128, 10}, and the activation.
struct MlpArch {
  std::vector<std::int64_t> widths;
  Activation act = Activation::relu;
};

/// Infers the architecture from tensors named fc1..fcL: `fcN.weight` [out, in] and
/// `fcN.bias` [out], float dtypes, numbered contiguously from 1, with each layer's input
/// width equal to the previous layer's output width. Other tensors are ignored. Errors name
/// the tensor at fault, and both tensors when two shapes disagree.
kmr::Expected<MlpArch> infer_mlp(const std::vector<TensorInfo>& tensors, Activation act);

/// Row-major like safetensors, so a weight's bytes map onto a matrix without transposing.
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// y = x Wᵀ + b, as torch.nn.Linear computes it.
struct DenseLayer {
  Matrix weight;         // [out, in]
  Eigen::VectorXf bias;  // [out]
};

struct Mlp {
  Activation act = Activation::relu;
  std::vector<DenseLayer> layers;

  MlpArch arch() const;
};

/// A freshly initialised model, as torch.nn.Linear does it: every weight and bias uniform
/// in ±1/sqrt(fan_in), drawn from Rng(seed) layer by layer (weights row-major, then bias).
/// Precondition: arch has at least two widths, all positive.
Mlp init_mlp(const MlpArch& arch, std::uint64_t seed);

/// Loads the model infer_mlp finds in a checkpoint, converting weights to f32.
kmr::Expected<Mlp> load_mlp(const SafetensorsFile& file, Activation act);
kmr::Expected<Mlp> load_mlp(const ShardedCheckpoint& checkpoint, Activation act);

/// The model as F32 tensors fcN.weight / fcN.bias, viewing the model's own memory: valid
/// while `model` lives unchanged. Pass to write_safetensors to save it.
std::vector<TensorToWrite> mlp_tensors(const Mlp& model);

/// Applies the activation to every element of `z` in place.
void apply_activation(Activation act, Matrix& z);

/// Logits [batch, out] for inputs [batch, in]. Precondition: inputs.cols() == widths[0].
Matrix mlp_forward(const Mlp& model, const Matrix& inputs);

/// Index of the largest logit per row (the first one on ties).
std::vector<std::int32_t> argmax_rows(const Matrix& logits);

/// Fraction of `data` whose top-1 prediction equals the label, evaluated in batches.
/// Fails when the data's feature count differs from the model's input width.
kmr::Expected<double> top1_accuracy(const Mlp& model, const Dataset& data, std::int64_t batch_size = 1000);

/// Rows [first, first + count) of a data set's inputs as a matrix.
Matrix dataset_rows(const Dataset& data, std::int64_t first, std::int64_t count);

}  // namespace kmr::runtime
