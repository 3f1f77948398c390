// Helpers of the JIT's tests: one shared JIT, and the comparisons that define agreement
// between the JIT and the interpreter (the oracle).
#pragma once

#include <string>

#include "compiler/codegen/jit.h"
#include "compiler/kir/tensor.h"
#include "compiler/passes/optimize.h"

namespace kmr::test {

/// A JIT shared by the tests, without a disk cache (so tests never touch ~/.cache).
codegen::Jit& test_jit();

/// Relative tolerance of measures: they are sums, which the JIT reassociates (per-row
/// partials in vector lanes, rows in order) and, read by measures only, adds up to four
/// f32 terms in f32 first: within 2^-22 of the sum of the terms' magnitudes
/// (docs/kernels.md). That is 2^-22 of the measure for non-negative terms (the stdlib's
/// error meters); the tests' signed measures (means of random weights) cancel too little
/// to need more. measure_sum_test checks the bound itself on a sum that cancels.
constexpr double kMeasureTolerance = 0x1p-22;

/// Distance in units in the last place between two floats (0 for -0 and +0, and for two NaNs).
int64_t ulp_distance(float a, float b);

/// Checks that the JIT's result agrees with the interpreter's: the same error message, or
/// the same shape, kind and grid, codes exactly, floats (values, scales, zero points)
/// within 1 ulp, measures within kMeasureTolerance. Returns whether they agree.
bool agree(const Expected<kir::KernelOutput>& interp, const Expected<kir::KernelOutput>& jit);

/// Checks that two JIT results are identical bit for bit (the same error, or the same bytes).
bool identical(const Expected<kir::KernelOutput>& a, const Expected<kir::KernelOutput>& b);

/// Runs `kernel` through the interpreter and through the JIT with 1 and 2 threads, and
/// checks agreement and thread-count independence (returns whether both held).
bool run_both(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                     const kir::ParamValues& params);

}  // namespace kmr::test
