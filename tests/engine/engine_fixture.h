// Compiles a policy against the baseline model for the engine's tests.
#pragma once

#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "compiler/codegen/engine.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/driver/compilation.h"

namespace kmr::engine::test {

/// Parses and checks `body` after the prelude (imports, the baseline model as `base`),
/// run from the project root; fails the test with the diagnostics if it does not check.
inline std::unique_ptr<driver::Compilation> compile_policy(const std::string& body) {
  auto compilation = std::make_unique<driver::Compilation>();
  std::string text =
      "import \"std/prune\";\nimport \"std/quant\";\n"
      "model base = load(\"examples/fashion_mnist/mlp.safetensors\", arch = mlp(act = relu));\n" + body;
  bool ok = driver::parse_program_text("policy.kmr", text, *compilation) && driver::check_program(*compilation);
  INFO(diag::render_all(compilation->diagnostics, compilation->sources));
  REQUIRE(ok);
  return compilation;
}

/// The kernels the engine tests run on: the JIT, as `kmrc run` uses by default, with two
/// threads and no disk cache (tests must not write into the user's cache).
inline codegen::KernelEngine& jit_kernels() {
  static std::unique_ptr<codegen::KernelEngine> engine = [] {
    codegen::EngineOptions options;
    options.threads = 2;
    options.jit.cache_dir = "";
    auto created = codegen::KernelEngine::create(options);
    REQUIRE(created.ok());
    return std::move(*created);
  }();
  return *engine;
}

/// The reference interpreter (`--no-jit`).
inline codegen::KernelEngine& interpreter_kernels() {
  static std::unique_ptr<codegen::KernelEngine> engine = [] {
    codegen::EngineOptions options;
    options.use_jit = false;
    auto created = codegen::KernelEngine::create(options);
    REQUIRE(created.ok());
    return std::move(*created);
  }();
  return *engine;
}

}  // namespace kmr::engine::test
