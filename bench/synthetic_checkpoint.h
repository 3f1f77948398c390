// Synthetic transformer checkpoints for benchmarks: LLaMA-7B-shaped tensors filled with
// seeded, realistic weights (Gaussian rows, a few outlier input channels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/safetensors_writer.h"

namespace kmr::bench {

struct SyntheticOptions {
  std::uint64_t target_bytes = 1ull << 30;  // tensor data bytes to produce
  std::uint64_t seed = 1;
  runtime::DType dtype = runtime::DType::F32;  // F32, F16 or BF16
  float sigma = 0.02f;                         // standard deviation of an ordinary weight
  double outlier_fraction = 0.005;             // input channels (columns) with outliers
  float outlier_scale = 20.0f;                 // how much larger their weights are
};

/// One tensor and its bytes.
struct SyntheticTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;
};

/// Tensors of a LLaMA-like decoder, layer by layer: input_layernorm [4096], q/k/v/o_proj
/// [4096, 4096], gate_proj and up_proj [11008, 4096], down_proj [4096, 11008],
/// post_attention_layernorm [4096], until `target_bytes` is reached; the last matrix keeps
/// only the rows that fit, so the data is target_bytes rounded down to a whole row.
/// Matrix rows are N(0, (sigma * r)^2) with r uniform in [0.5, 1.5) per row, and the
/// outlier columns are multiplied by outlier_scale; norms are 1 + N(0, 0.1^2). The same
/// options give the same bytes on every platform (runtime::Rng, Box-Muller in float).
std::vector<SyntheticTensor> make_synthetic_checkpoint(const SyntheticOptions& options);

/// An MLP kmrc loads (`arch = mlp(...)`): fc1 .. fcL, each a [width, width] weight of the
/// same rows and outliers as above and a bias [width] of N(0, 0.01^2), with L the most whole
/// layers of weights that fit target_bytes (at least 1).
std::vector<SyntheticTensor> make_synthetic_mlp(const SyntheticOptions& options, std::int64_t width);

/// Views of `tensors` for write_safetensors.
std::vector<runtime::TensorToWrite> views_of(const std::vector<SyntheticTensor>& tensors, runtime::DType dtype);

/// "1GiB", "256MiB", "1.5GB", "4096": a byte count, or 0 when the text is not one.
std::uint64_t parse_size(const std::string& text);

}  // namespace kmr::bench
