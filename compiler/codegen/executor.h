// Runs compiled kernels: passes over the tensor, rows over threads, coarse values and
// quantile selection in C++ between the generated sweeps, errors as the interpreter's.
#pragma once

#include "compiler/codegen/compiled_kernel.h"
#include "compiler/codegen/thread_pool.h"
#include "compiler/kir/tensor.h"

namespace kmr::codegen {

class BufferCache;

/// Runs `code` (compiled from a kernel structurally equal to `kernel`) on `input` with
/// `params`, rows partitioned over `threads` workers of `pool`. Results are the same for
/// any thread count: rows are independent, and reductions over the whole tensor combine
/// per-row partials in row order. Errors name `kernel` and the tensor; params, weights,
/// group sizes, bits, scales, zero points and measures fail exactly as the interpreter
/// fails; with several failing elements the one named may differ.
/// The output goes to `out`, whose buffers are reused (a caller running many kernels of
/// the same size allocates and faults in its output memory once); on failure `out` holds
/// unspecified values. Scratch buffers come from `cache` and go back to it.
Status execute(const CompiledKernel& code, const kir::Kernel& kernel, const kir::TensorView& input,
               const kir::ParamValues& params, ThreadPool& pool, BufferCache& cache, int threads,
               kir::KernelOutput& out);

}  // namespace kmr::codegen
