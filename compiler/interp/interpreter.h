// The reference interpreter of KIR: slow, simple and exact; the oracle the JIT is tested
// against, and `kmrc run --no-jit`.
#pragma once

#include "compiler/kir/kir.h"
#include "compiler/kir/tensor.h"
#include "support/expected.h"

namespace kmr::interp {

/// Runs `kernel` (verified) on `input` with `params`, straight from the definitions in
/// docs/kernels.md: every reduction is computed over its whole domain in operand order
/// (sums left to right in f64), quantiles by sorting (value, position) pairs. Fails with
/// an Error naming the kernel and the tensor on NaN/Inf weights, sqrt/log of a negative
/// number, a non-finite output or measure, and bad parameters (group sizes, bits).
Expected<kir::KernelOutput> run(const kir::Kernel& kernel, const kir::TensorView& input, const kir::ParamValues& params);

}  // namespace kmr::interp
