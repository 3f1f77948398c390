// The meters of a materialised model that need only its weights: encoded size, parameter
// and non-zero counts, sparsity, FLOPs per forward pass and relative weight error.
#pragma once

#include <cstdint>

#include "runtime/engine/pipeline_runner.h"

namespace kmr::engine {

/// Bytes of tensor data the saved checkpoint holds (headers excluded): what
/// `encoded_size` reports and what a save writes for these tensors.
uint64_t encoded_size(const MaterializedModel& model);
/// Elements of every tensor as stored: a low-rank weight counts rank x (rows + cols).
int64_t param_count(const MaterializedModel& model);
/// Non-zero stored elements of the float tensors (of the factors, for low-rank weights).
int64_t nonzero_count(const MaterializedModel& model);
/// 1 - nonzeros / parameters (0 for an empty model).
double sparsity(const MaterializedModel& model);
/// FLOPs of one forward pass of an MLP (`fcN.weight` [out, in], `fcN.bias`) on one input,
/// counting what a sparse or low-rank kernel executes: a multiply and an add per non-zero
/// weight (per non-zero factor element for low-rank weights, which run as two products),
/// an add per bias element. Activations are not counted.
double forward_flops(const MaterializedModel& model);
/// ||W - W_ref||_F / ||W_ref||_F over the tensors both models have (0 when the reference
/// is all zeros and so is the difference). Fails when a tensor's shapes differ.
Expected<double> relative_error(const MaterializedModel& model, const MaterializedModel& reference);

}  // namespace kmr::engine
