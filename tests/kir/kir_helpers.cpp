// Compiles test sources through the real front end, lowering and kernel passes.
#include "kir_helpers.h"

#include <map>
#include <random>
#include <utility>

#include <doctest/doctest.h>

#include "compiler/driver/compilation.h"

namespace kmr::test {
namespace {

bool front_end(driver::Compilation& compilation, const std::string& source) {
  sema::CheckOptions options;
  options.probe_files = false;
  bool ok = driver::parse_program_text("test.kmr", source, compilation) && driver::check_program(compilation, options);
  if (!ok) FAIL_CHECK(diag::render_all(compilation.diagnostics, compilation.sources));
  return ok;
}

}  // namespace

std::vector<passes::PreparedKernel> kernels_of(const std::string& source) {
  driver::Compilation compilation;
  std::vector<passes::PreparedKernel> out;
  if (!front_end(compilation, source)) return out;
  std::vector<kir::Kernel> kernels;  // the root file's, then the imported modules' (the stdlib)
  for (const auto& module : compilation.modules)
    for (auto& kernel : lower::lower_module_kernels(compilation.program, *module, compilation.diagnostics))
      kernels.push_back(std::move(kernel));
  if (compilation.diagnostics.has_errors()) FAIL_CHECK(diag::render_all(compilation.diagnostics, compilation.sources));
  for (const auto& kernel : kernels) {
    auto prepared = passes::prepare(kernel);
    REQUIRE_MESSAGE(prepared.ok(), (prepared.ok() ? "" : prepared.error().message));
    out.push_back(std::move(*prepared));
  }
  return out;
}

passes::PreparedKernel kernel_named(const std::string& source, const std::string& name) {
  for (auto& kernel : kernels_of(source))
    if (kernel.kernel.name == name) return kernel;
  FAIL("no kernel named " << name);
  return {};
}

const passes::PreparedKernel& shared_kernel(const std::string& source, const std::string& name) {
  static std::map<std::pair<std::string, std::string>, passes::PreparedKernel> kernels;
  auto key = std::make_pair(source, name);
  auto it = kernels.find(key);
  if (it == kernels.end()) it = kernels.emplace(key, kernel_named(source, name)).first;
  return it->second;
}

std::vector<lower::PipelineStep> steps_of(const std::string& source, const std::string& name) {
  driver::Compilation compilation;
  if (!front_end(compilation, source)) return {};
  const auto& symbol = compilation.program.symbols.at(name);
  auto steps = lower::lower_pipeline(compilation.program, static_cast<const ast::ValueDecl&>(*symbol.decl),
                                     compilation.diagnostics);
  REQUIRE_MESSAGE(steps.has_value(), diag::render_all(compilation.diagnostics, compilation.sources));
  return *steps;
}

std::vector<std::string> lowering_errors(const std::string& source) {
  driver::Compilation compilation;
  std::vector<std::string> out;
  if (!front_end(compilation, source)) return out;
  (void)lower::lower_module_kernels(compilation.program, *compilation.modules.front(), compilation.diagnostics);
  for (const auto& d : compilation.diagnostics.sorted())
    if (d.is_error()) out.push_back(std::string(diag::code_id(d.code)) + "@" + std::to_string(d.span.line) + ":" + std::to_string(d.span.col));
  return out;
}

std::string pipeline_preamble() {
  return R"(import "std/prune";
import "std/quant";
model base = load("m.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
)";
}

std::vector<float> random_weights(int64_t n, uint64_t seed, bool with_ties) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(n);
  for (auto& w : out) {
    w = normal(rng);
    // Ties: a third of the weights from a handful of values (zeros included), signs mixed.
    if (with_ties && rng() % 3 == 0) w = static_cast<float>(static_cast<int>(rng() % 5) - 2) * 0.5f;
  }
  return out;
}

kir::TensorView view(const std::vector<float>& data, int64_t rows, int64_t cols, const std::string& name) {
  return kir::TensorView{name, data.data(), rows, cols};
}

}  // namespace kmr::test
