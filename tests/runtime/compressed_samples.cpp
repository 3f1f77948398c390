// Deterministic compressed tensors for tests, built from the project's seeded Rng.
#include "compressed_samples.h"

#include <limits>

#include "runtime/random.h"

namespace kmr::runtime::testing {

QuantizedTensor random_quantized(std::string name, std::vector<std::int64_t> shape, int bits, QuantStrategy strategy,
                                 std::int64_t group_size, bool symmetric, std::uint64_t seed) {
  Rng rng(seed);
  QuantizedTensor q;
  q.name = std::move(name);
  q.shape = std::move(shape);
  q.bits = bits;
  q.strategy = strategy;
  q.group_size = group_size;
  q.symmetric = symmetric;
  const std::int64_t lo = -(1 << (bits - 1));
  const std::uint64_t levels = std::uint64_t{1} << bits;
  const MatrixDims dims = matrix_dims(q.shape);
  q.codes.resize(static_cast<std::size_t>(dims.rows * dims.cols));
  for (auto& c : q.codes) c = static_cast<std::int8_t>(lo + static_cast<std::int64_t>(rng.below(levels)));
  if (q.codes.size() >= 2) {
    q.codes[0] = static_cast<std::int8_t>(lo);
    q.codes[1] = static_cast<std::int8_t>(-lo - 1);
  }
  q.scales.resize(static_cast<std::size_t>(scale_count(q)));
  for (auto& s : q.scales) s = 0.001f + 0.099f * rng.uniform01();
  if (!symmetric) {
    q.zero_points.resize(q.scales.size());
    for (auto& z : q.zero_points) z = static_cast<std::int8_t>(lo + static_cast<std::int64_t>(rng.below(levels)));
  }
  return q;
}

void prune_codes(QuantizedTensor& q, double fraction, std::uint64_t seed) {
  Rng rng(seed);
  const MatrixDims dims = matrix_dims(q.shape);
  const ScaleUnits units(q);
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      if (rng.uniform01() < fraction) q.codes[r * dims.cols + c] = q.symmetric ? 0 : q.zero_points[units(r, c)];
    }
  }
}

std::vector<float> random_sparse_values(const std::vector<std::int64_t>& shape, double density, std::uint64_t seed) {
  Rng rng(seed);
  const MatrixDims dims = matrix_dims(shape);
  std::vector<float> values(static_cast<std::size_t>(dims.rows * dims.cols), 0.0f);
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      const bool keep = dims.rows >= 3 && r == 1 ? false : (dims.rows >= 3 && r == 2) || rng.uniform01() < density;
      float v = 0.0f;
      while (keep && v == 0.0f) v = 2.0f * rng.uniform01() - 1.0f;
      values[r * dims.cols + c] = v;
    }
  }
  return values;
}

LowRankTensor random_low_rank(std::string name, std::int64_t rows, std::int64_t cols, std::int64_t rank,
                              std::uint64_t seed) {
  Rng rng(seed);
  LowRankTensor t;
  t.name = std::move(name);
  t.rows = rows;
  t.cols = cols;
  t.rank = rank;
  t.u.resize(static_cast<std::size_t>(rows * rank));
  t.v.resize(static_cast<std::size_t>(rank * cols));
  for (auto& x : t.u) x = 2.0f * rng.uniform01() - 1.0f;
  for (auto& x : t.v) x = 2.0f * rng.uniform01() - 1.0f;
  return t;
}

LowRankTensor random_quantized_low_rank(std::string name, std::int64_t rows, std::int64_t cols, std::int64_t rank,
                                        int bits, QuantStrategy strategy, std::int64_t group_size, double pruned,
                                        std::uint64_t seed) {
  LowRankTensor t;
  t.name = std::move(name);
  t.rows = rows;
  t.cols = cols;
  t.rank = rank;
  t.u_quantized = random_quantized(factor_name(t.name, 'u'), {rows, rank}, bits, strategy, group_size, true, seed);
  t.v_quantized = random_quantized(factor_name(t.name, 'v'), {rank, cols}, bits, strategy, group_size, true, seed + 1);
  prune_codes(*t.u_quantized, pruned, seed + 2);
  prune_codes(*t.v_quantized, pruned, seed + 3);
  t.u = dequantize(*t.u_quantized);
  t.v = dequantize(*t.v_quantized);
  return t;
}

SampleModel sample_model() {
  SampleModel s;
  Rng rng(7);
  auto add_dense = [&](const std::string& name, std::vector<std::int64_t> shape, std::vector<float> values) {
    s.dense_values.push_back(std::move(values));
    const std::vector<float>& owned = s.dense_values.back();
    s.model.dense.push_back({name, DType::F32, std::move(shape),
                             ByteView{reinterpret_cast<const std::uint8_t*>(owned.data()), owned.size() * 4}});
  };
  // dense_values must not reallocate once views into it exist.
  s.dense_values.reserve(3);
  std::vector<float> bias(6);
  for (auto& b : bias) b = rng.uniform01() - 0.5f;
  add_dense("q8.bias", {6}, bias);
  std::vector<float> weird(12);
  for (auto& w : weird) w = rng.uniform01();
  weird[3] = std::numeric_limits<float>::quiet_NaN();
  weird[5] = std::numeric_limits<float>::infinity();
  weird[7] = -std::numeric_limits<float>::infinity();
  weird[8] = 0.0f;
  add_dense("nan.weight", {3, 4}, weird);
  add_dense("scalar", {}, {2.5f});

  s.model.quantized.push_back(random_quantized("q8.weight", {6, 10}, 8, QuantStrategy::Channel, 0, true, 1));
  s.model.quantized.push_back(random_quantized("q4.weight", {5, 70}, 4, QuantStrategy::Group, 32, false, 2));
  s.model.quantized.push_back(random_quantized("q3.weight", {4, 23}, 3, QuantStrategy::Channel, 0, true, 3));
  prune_codes(s.model.quantized.back(), 0.8, 9);
  s.model.quantized.push_back(random_quantized("q2.weight", {3, 17}, 2, QuantStrategy::Tensor, 0, false, 4));
  prune_codes(s.model.quantized.back(), 0.6, 10);
  QuantizedTensor qb = random_quantized("qb.weight", {4, 130}, 5, QuantStrategy::Group, 64, true, 5);
  qb.dtype = DType::BF16;
  s.model.quantized.push_back(std::move(qb));
  const std::vector<float> sparse = random_sparse_values({5, 19}, 0.3, 6);
  s.model.sparse.push_back(sparse_from_dense("sp.weight", {5, 19}, DType::F32, sparse.data()));
  s.model.low_rank.push_back(random_low_rank("lr.weight", 7, 9, 2, 8));
  s.model.low_rank.push_back(random_quantized_low_rank("lq.weight", 6, 11, 3, 4, QuantStrategy::Group, 4, 0.3, 11));
  s.provenance = {"0.1.0", "sha256:0123abcd", {{"bits", "4"}, {"sparsity", "30%"}}};
  return s;
}

}  // namespace kmr::runtime::testing
