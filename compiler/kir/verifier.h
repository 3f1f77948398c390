// The KIR verifier: re-derives every node's typing and checks the kernel's invariants.
#pragma once

#include "compiler/kir/kir.h"
#include "support/expected.h"

namespace kmr::kir {

/// Checks that every node is what its factory would build from its operands (type, level,
/// hash), that parameters are in range, and the kernel's result rules: a quantized result
/// has scale (and zero) constant over groups, rows or the tensor, zero no finer than scale,
/// and uniform bits; measures are uniform numbers with distinct names. Run by the tests
/// and, in debug builds, after each lowering step.
Status verify(const Kernel& kernel);

}  // namespace kmr::kir
