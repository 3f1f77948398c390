// Round-to-nearest quantization and magnitude pruning of a dense MLP in plain C++: reference
// compressions, made without KMR rules, that tests and benchmarks run the compressed forward
// pass on.
#pragma once

#include <cstdint>

#include "runtime/compressed_mlp.h"
#include "runtime/mlp.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Every weight quantized symmetrically to `bits` in groups of `group_size` consecutive
/// elements of a row (the last group of a row holds what is left): a group's scale is
/// max|w| / (2^(bits-1) - 1) (1 for an all-zero group), a code round(w / scale), ties away
/// from zero, clamped to the bit range. Weights are named fcN.weight, with dtype F32; biases
/// are kept. Fails when bits is outside 2..8, group_size is not positive or the model has no
/// layer.
kmr::Expected<CompressedMlp> quantize_mlp(const Mlp& model, int bits, std::int64_t group_size);

/// Every weight with floor(sparsity x its size) elements of smallest magnitude (the first
/// ones on ties) set to zero, stored bitmask-sparse (sparse_from_dense, F32) as fcN.weight;
/// biases are kept. Fails when sparsity is outside [0, 1] or the model has no layer.
kmr::Expected<CompressedMlp> prune_mlp(const Mlp& model, double sparsity);

}  // namespace kmr::runtime
