// The kernel benchmarks' workload: a seeded 4096 x 11008 f32 matrix shaped like an LLM's
// weights, and the kernels they run on it (std/prune, std/quant and their fused pipeline).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/kir/tensor.h"
#include "compiler/passes/optimize.h"

namespace kmr::bench {

constexpr int64_t kRows = 4096, kCols = 11008;
constexpr double kBytes = double(kRows) * kCols * sizeof(float);

/// Gaussian rows of varying scale, and 12 outlier columns 30x larger (as in LLM weights);
/// in transparent huge pages where the system has them, as `kmrc run` hands the kernels
/// the tensors it decodes (SafetensorsFile::to_f32). The benchmarks' other large buffers
/// (memcpy's destination, the floors' output) are allocated likewise: the same pages.
std::vector<float> make_matrix();

/// The workload's kernels, lowered and prepared: the stdlib's (`quantize`,
/// `magnitude_prune`, ...), the pipeline `fused:prune|>quant` (50%, int8 per row) and
/// `quantize_bare` (quantize without its fused error meter). Exits on a compile error.
std::vector<passes::PreparedKernel> compile_workload();

/// A kernel run of the benchmarks: a short id (kernel_runs --case), what it does, the
/// kernel's name and its parameters.
struct WorkloadCase {
  const char* id;
  const char* label;
  const char* kernel;
  kir::ParamValues params;
};
const std::vector<WorkloadCase>& workload_cases();
/// The case with that id; exits if there is none.
const WorkloadCase& workload_case(const std::string& id);

/// The kernel named `name`; exits if there is none.
const passes::PreparedKernel& find_kernel(const std::vector<passes::PreparedKernel>& kernels, const std::string& name);

}  // namespace kmr::bench
