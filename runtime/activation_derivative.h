// The derivative of the MLP activations, shared by every backward pass (MLP, LoRA).
#pragma once

#include "runtime/mlp.h"

namespace kmr::runtime {

/// Multiplies `delta` element-wise by act'(z), z being the pre-activation values the
/// forward pass saw (relu' = [z > 0], tanh' = 1 − tanh²(z), exact-GELU' = Φ(z) + z φ(z)).
/// Precondition: z and delta have one shape.
void scale_by_activation_derivative(Activation act, const Matrix& z, Matrix& delta);

}  // namespace kmr::runtime
