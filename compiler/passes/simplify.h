// CSE and constant folding of a KIR kernel.
#pragma once

#include "compiler/kir/kir.h"

namespace kmr::passes {

/// Rebuilds `kernel` bottom-up so that structurally equal nodes are one node (CSE), every
/// operator whose operands are constants is folded, and exact identities are applied
/// (x*1, x/1, x-0, x^1 -> x; x^2 -> x*x; select on a constant condition). Requires a
/// verified kernel; guarantees a verified kernel computing the same values.
kir::Kernel simplify(const kir::Kernel& kernel);

}  // namespace kmr::passes
