// Compiles a policy against the baseline model for the engine's tests.
#pragma once

#include <memory>
#include <string>

#include <doctest/doctest.h>

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

}  // namespace kmr::engine::test
