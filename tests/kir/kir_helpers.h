// Helpers for the kernel tests: compile KMR source to prepared kernels, make tensors, and
// plain C++ references of the stdlib rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/kir/tensor.h"
#include "compiler/lower/lower_kernel.h"
#include "compiler/passes/optimize.h"

namespace kmr::test {

/// The prepared kernels of `source` (which may import std/...): its kernel declarations,
/// then its pipelines' fused steps. Fails the test on any diagnostic.
std::vector<passes::PreparedKernel> kernels_of(const std::string& source);
/// The kernel named `name` among them.
passes::PreparedKernel kernel_named(const std::string& source, const std::string& name);
/// The same, compiled once per test run (kept until it ends).
const passes::PreparedKernel& shared_kernel(const std::string& source, const std::string& name);
/// The pipeline steps of pipeline `name` in `source` (unprepared).
std::vector<lower::PipelineStep> steps_of(const std::string& source, const std::string& name);
/// The diagnostics (brief form, e.g. E064@3:5) of lowering `source`'s kernels.
std::vector<std::string> lowering_errors(const std::string& source);

/// The start of a test source whose pipelines fuse stdlib rules: the std/prune and
/// std/quant imports, a model `base` (m.safetensors) and a knob `sparsity` (default 50%).
std::string pipeline_preamble();

/// Standard-normal weights from a fixed seed, with optional ties and zeros mixed in.
std::vector<float> random_weights(int64_t n, uint64_t seed, bool with_ties = false);
kir::TensorView view(const std::vector<float>& data, int64_t rows, int64_t cols, const std::string& name = "t");

}  // namespace kmr::test
