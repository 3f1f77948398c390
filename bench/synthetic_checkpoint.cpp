// Seeded Gaussian weights with outlier channels, laid out like a LLaMA decoder.
#include "synthetic_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "runtime/encoded_tensors.h"
#include "runtime/random.h"

namespace kmr::bench {
namespace {

constexpr std::int64_t kHidden = 4096;
constexpr std::int64_t kIntermediate = 11008;

struct Shape {
  const char* name;
  std::int64_t rows, cols;  // cols 0: a vector of `rows`
};

const Shape kLayer[] = {
    {"input_layernorm", kHidden, 0},          {"self_attn.q_proj", kHidden, kHidden},
    {"self_attn.k_proj", kHidden, kHidden},   {"self_attn.v_proj", kHidden, kHidden},
    {"self_attn.o_proj", kHidden, kHidden},   {"mlp.gate_proj", kIntermediate, kHidden},
    {"mlp.up_proj", kIntermediate, kHidden},  {"mlp.down_proj", kHidden, kIntermediate},
    {"post_attention_layernorm", kHidden, 0},
};

// Box-Muller: two standard normal values from two uniforms, in float throughout.
void gaussian_pair(runtime::Rng& rng, float& a, float& b) {
  const float u1 = rng.uniform01() + 0x1p-25f;  // never 0, so the log is finite
  const float u2 = rng.uniform01();
  const float radius = std::sqrt(-2.0f * std::log(u1));
  const float angle = 6.2831853f * u2;
  a = radius * std::cos(angle);
  b = radius * std::sin(angle);
}

std::vector<float> matrix_values(runtime::Rng& rng, std::int64_t rows, std::int64_t cols, const SyntheticOptions& o) {
  std::vector<float> column_scale(static_cast<std::size_t>(cols), 1.0f);
  const std::int64_t outliers = std::max<std::int64_t>(1, static_cast<std::int64_t>(o.outlier_fraction * cols));
  for (std::int64_t i = 0; i < outliers; ++i)
    column_scale[rng.below(static_cast<std::uint64_t>(cols))] = o.outlier_scale;
  std::vector<float> values(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float row_sigma = o.sigma * (0.5f + rng.uniform01());
    float* row = values.data() + r * cols;
    for (std::int64_t c = 0; c < cols; c += 2) {
      float a, b;
      gaussian_pair(rng, a, b);
      row[c] = a * row_sigma * column_scale[c];
      if (c + 1 < cols) row[c + 1] = b * row_sigma * column_scale[c + 1];
    }
  }
  return values;
}

std::vector<float> norm_values(runtime::Rng& rng, std::int64_t n) {
  std::vector<float> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; i += 2) {
    float a, b;
    gaussian_pair(rng, a, b);
    values[i] = 1.0f + 0.1f * a;
    if (i + 1 < n) values[i + 1] = 1.0f + 0.1f * b;
  }
  return values;
}

}  // namespace

std::vector<SyntheticTensor> make_synthetic_checkpoint(const SyntheticOptions& options) {
  const std::uint64_t element = static_cast<std::uint64_t>(runtime::dtype_bits(options.dtype) / 8);
  std::vector<SyntheticTensor> out;
  std::uint64_t used = 0;
  for (int layer = 0; used < options.target_bytes; ++layer) {
    for (const Shape& s : kLayer) {
      const std::int64_t row_elems = s.cols == 0 ? s.rows : s.cols;
      const std::uint64_t left = options.target_bytes - used;
      std::int64_t rows = s.cols == 0 ? 1 : s.rows;
      const std::uint64_t row_bytes = static_cast<std::uint64_t>(row_elems) * element;
      if (static_cast<std::uint64_t>(rows) * row_bytes > left) rows = static_cast<std::int64_t>(left / row_bytes);
      if (rows == 0) return out;
      // A seed per tensor, so each tensor's values do not depend on the target size.
      runtime::Rng rng(options.seed * 1000003u + static_cast<std::uint64_t>(layer) * 97u +
                       static_cast<std::uint64_t>(&s - kLayer));
      SyntheticTensor t;
      t.name = "model.layers." + std::to_string(layer) + "." + s.name + ".weight";
      std::vector<float> values;
      if (s.cols == 0) {
        t.shape = {s.rows};
        values = norm_values(rng, s.rows);
      } else {
        t.shape = {rows, s.cols};
        values = matrix_values(rng, rows, s.cols, options);
      }
      t.bytes = runtime::float_bytes(values, options.dtype);
      used += t.bytes.size();
      out.push_back(std::move(t));
      if (used >= options.target_bytes) return out;
    }
  }
  return out;
}

std::vector<SyntheticTensor> make_synthetic_mlp(const SyntheticOptions& options, std::int64_t width) {
  const std::uint64_t element = static_cast<std::uint64_t>(runtime::dtype_bits(options.dtype) / 8);
  const std::uint64_t layer_bytes = static_cast<std::uint64_t>(width * width) * element;
  const std::uint64_t layers = std::max<std::uint64_t>(1, options.target_bytes / layer_bytes);
  std::vector<SyntheticTensor> out;
  for (std::uint64_t layer = 1; layer <= layers; ++layer) {
    runtime::Rng rng(options.seed * 1000003u + layer);
    const std::string prefix = "fc" + std::to_string(layer);
    std::vector<float> bias = norm_values(rng, width);
    for (float& b : bias) b = (b - 1.0f) * 0.1f;  // N(0, 0.01^2)
    out.push_back({prefix + ".weight", {width, width},
                   runtime::float_bytes(matrix_values(rng, width, width, options), options.dtype)});
    out.push_back({prefix + ".bias", {width}, runtime::float_bytes(bias, options.dtype)});
  }
  return out;
}

std::vector<runtime::TensorToWrite> views_of(const std::vector<SyntheticTensor>& tensors, runtime::DType dtype) {
  std::vector<runtime::TensorToWrite> views;
  for (const SyntheticTensor& t : tensors) views.push_back({t.name, dtype, t.shape, {t.bytes.data(), t.bytes.size()}});
  return views;
}

std::uint64_t parse_size(const std::string& text) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !(number >= 0)) return 0;
  const std::string unit = end;
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "KB") scale = 1e3;
  if (unit == "MB") scale = 1e6;
  if (unit == "GB") scale = 1e9;
  if (unit == "KiB") scale = 1024.0;
  if (unit == "MiB") scale = 1024.0 * 1024;
  if (unit == "GiB") scale = 1024.0 * 1024 * 1024;
  return static_cast<std::uint64_t>(number * scale);
}

}  // namespace kmr::bench
