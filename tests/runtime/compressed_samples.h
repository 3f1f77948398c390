// Seeded compressed tensors and a mixed compressed model, shared by the runtime tests and
// the sample writer that the Python checker and the kmrc end-to-end test read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/compressed_writer.h"

namespace kmr::runtime::testing {

/// A valid quantized tensor: random codes over the whole range (the first two elements
/// are the lowest and highest code), scales in [0.001, 0.1), random zero points.
QuantizedTensor random_quantized(std::string name, std::vector<std::int64_t> shape, int bits, QuantStrategy strategy,
                                 std::int64_t group_size, bool symmetric, std::uint64_t seed);

/// Sets each code to its scale unit's zero point (0 when symmetric) with probability
/// `fraction`, as pruning before quantisation does: 1 leaves every code at its zero point.
void prune_codes(QuantizedTensor& q, double fraction, std::uint64_t seed);

/// Dense values of which about `density` are non-zero (uniform in [-1, 1)); with at least
/// three rows, row 1 is all zeros and row 2 all non-zero.
std::vector<float> random_sparse_values(const std::vector<std::int64_t>& shape, double density, std::uint64_t seed);

/// Random factors, uniform in [-1, 1).
LowRankTensor random_low_rank(std::string name, std::int64_t rows, std::int64_t cols, std::int64_t rank,
                              std::uint64_t seed);

/// Random quantized factors (random_quantized, symmetric, of `strategy` and `group_size`),
/// with `pruned` of their codes at zero; u and v hold their dequantized values.
LowRankTensor random_quantized_low_rank(std::string name, std::int64_t rows, std::int64_t cols, std::int64_t rank,
                                        int bits, QuantStrategy strategy, std::int64_t group_size, double pruned,
                                        std::uint64_t seed);

/// A model with one tensor of each kind: dense biases, a dense weight holding one NaN and
/// two infinities ("nan.weight"), 8-bit per-row symmetric ("q8.weight"), 4-bit groups of
/// 32 asymmetric with a partial last group ("q4.weight"), 3-bit per-row with 80% of its
/// codes pruned ("q3.weight") and 2-bit per-tensor asymmetric with 60% pruned
/// ("q2.weight"), both stored sparse-quantized, 5-bit groups of 64 of a BF16 original
/// ("qb.weight"), bitmask-sparse ("sp.weight") and rank-2 ("lr.weight"). The dense tensors'
/// bytes live in the returned object.
struct SampleModel {
  std::vector<std::vector<float>> dense_values;
  CompressedModel model;
  Provenance provenance;
};
SampleModel sample_model();

}  // namespace kmr::runtime::testing
