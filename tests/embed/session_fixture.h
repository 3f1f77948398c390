// What the embedding tests share: a policy over the baseline model and a session set up
// the way tests need it (two threads, no kernel disk cache). Only the public header.
#pragma once

#include <doctest/doctest.h>
#include <kmr/kmr.h>

#include <string>

namespace kmr::embed_test {

/// The baseline model, relative to the project root (the tests' working directory).
inline const char* kBaseline = "examples/fashion_mnist/mlp.safetensors";

/// `body` after the imports and the baseline model declared as `base`.
inline std::string policy(const std::string& body) {
  return "import \"std/prune\";\nimport \"std/quant\";\n"
         "model base = load(\"examples/fashion_mnist/mlp.safetensors\", arch = mlp(act = relu));\n" +
         body;
}

/// Two quantisation settings, a size meter and a budget only 4-bit weights meet.
inline const char* kQuantBody =
    "knob bits : int in {8, 4} = 8;\n"
    "rule quant = quantize(bits) on base.match(\"fc*.weight\");\n"
    "pipeline small = base |> quant;\n"
    "meter size : bytes = encoded_size(small);\n"
    "budget size <= 120 KiB;\n"  // 4 bits fit (about 62 KiB), 8 bits do not (about 150 KiB)
    "objective minimize size;\n"
    "policy grid();\n";

/// A session that does not write into the user's kernel cache.
inline Session test_session() {
  Session session;
  Limits limits;
  limits.threads = 2;
  limits.kernel_cache_dir = "";
  REQUIRE(session.set_limits(limits).ok());
  return session;
}

/// Compiles `text`, failing the test with the diagnostics when it does not check.
inline void require_compiles(Session& session, const std::string& text) {
  auto compiled = session.compile_string("policy.kmr", text);
  INFO((compiled ? std::string() : compiled.error().message));
  REQUIRE(compiled.ok());
}

}  // namespace kmr::embed_test
