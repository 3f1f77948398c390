#include "kernel_workload.h"

#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "compiler/driver/compilation.h"
#include "compiler/lower/lower_kernel.h"
#include "support/large_buffers.h"

namespace kmr::bench {
namespace {

const char* kSource = R"(import "std/prune";
import "std/quant";
model base = load("bench.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
knob bits : int in {8, 4} = 8;
rule prune = magnitude_prune(sparsity) on base.match("w");
rule quant = quantize(bits) on base.match("w");
pipeline fused = base |> prune |> quant;

// quantize without its fused error meter: what the meter costs.
kernel quantize_bare(w: tensor, bits: int, group: int = 0) -> qtensor {
  let qmax  = 2 ^ (bits - 1) - 1;
  let scale = max(abs(w), over = group(group)) / qmax;
  yield quantized(clamp(round(w / scale), -qmax, qmax), scale, bits = bits);
}
)";

}  // namespace

std::vector<float> make_matrix() {
  std::mt19937_64 rng(20261129);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w;
  resize_large(w, kRows * kCols);
  std::vector<int64_t> outliers;
  for (int i = 0; i < 12; ++i) outliers.push_back(static_cast<int64_t>(rng() % kCols));
  for (int64_t r = 0; r < kRows; ++r) {
    float scale = 0.02f * (1.0f + 0.5f * static_cast<float>(r % 7) / 7.0f);
    float* row = w.data() + r * kCols;
    for (int64_t c = 0; c < kCols; ++c) row[c] = normal(rng) * scale;
    for (int64_t c : outliers) row[c] *= 30.0f;
  }
  return w;
}

std::vector<passes::PreparedKernel> compile_workload() {
  driver::Compilation compilation;
  sema::CheckOptions options;
  options.probe_files = false;
  if (!driver::parse_program_text("bench.kmr", kSource, compilation) ||
      !driver::check_program(compilation, options)) {
    fmt::print(stderr, "{}", diag::render_all(compilation.diagnostics, compilation.sources));
    std::exit(1);
  }
  std::vector<passes::PreparedKernel> out;
  for (const auto& module : compilation.modules)
    for (const auto& kernel : lower::lower_module_kernels(compilation.program, *module, compilation.diagnostics)) {
      auto prepared = passes::prepare(kernel);
      if (!prepared) {
        fmt::print(stderr, "{}\n", prepared.error().message);
        std::exit(1);
      }
      out.push_back(std::move(*prepared));
    }
  return out;
}

const std::vector<WorkloadCase>& workload_cases() {
  static const std::vector<WorkloadCase> cases{
      {"int8", "int8 per row (std quantize)", "quantize", {8, 0}},
      {"int8-bare", "int8 per row, no fused meter", "quantize_bare", {8, 0}},
      {"fused", "prune 50% exact + int8 (fused)", "fused:prune|>quant", {0.5, 8}},
      {"prune", "prune 50% exact alone", "magnitude_prune", {0.5}},
      {"int4", "int4 per group of 64", "quantize", {4, 64}},
  };
  return cases;
}

const WorkloadCase& workload_case(const std::string& id) {
  for (const auto& c : workload_cases())
    if (c.id == id) return c;
  fmt::print(stderr, "no case {}\n", id);
  std::exit(1);
}

const passes::PreparedKernel& find_kernel(const std::vector<passes::PreparedKernel>& kernels, const std::string& name) {
  for (const auto& kernel : kernels)
    if (kernel.kernel.name == name) return kernel;
  fmt::print(stderr, "no kernel {}\n", name);
  std::exit(1);
}

}  // namespace kmr::bench
