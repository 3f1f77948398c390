// The derivative of the MLP activations, for backward passes written outside mlp_gradients.
#pragma once

#include "runtime/mlp.h"

namespace kmr::runtime {

/// Multiplies `delta` element-wise by act'(z), z being the pre-activation values the
/// forward pass saw (relu' = [z > 0], tanh' = 1 − tanh²(z), exact-GELU' = Φ(z) + z φ(z)).
/// The same arithmetic as mlp_backward uses. Precondition: z and delta have one shape.
void scale_by_activation_derivative(Activation act, const Matrix& z, Matrix& delta);

}  // namespace kmr::runtime
