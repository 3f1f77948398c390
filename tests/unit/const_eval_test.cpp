// Constant folding with units, as knob domains use it.
#include <doctest/doctest.h>

#include "compile_helpers.h"
#include "compiler/sema/const_eval.h"

namespace kmr::sema {
namespace {

// The value of the single knob default in `knob k : TYPE in DOMAIN = EXPR;`.
std::optional<Value> fold(const std::string& expr) {
  driver::Compilation compilation;
  std::string text = "knob k : float in [0.0, 1.0] = " + expr + ";";
  uint32_t file = compilation.sources.add("t.kmr", text);
  auto module = syntax::parse_module(compilation.sources, file, compilation.diagnostics);
  REQUIRE_FALSE(compilation.diagnostics.has_errors());
  const auto& knob = static_cast<const ast::KnobDecl&>(*module.decls.at(0));
  return evaluate_constant(*knob.default_value);
}

TEST_CASE("units scale literals to base units") {
  CHECK(fold("64 KiB")->number == 65536);
  CHECK(fold("64 KiB")->type == Type::Bytes);
  CHECK(fold("1.5 GFLOP")->number == 1.5e9);
  CHECK(fold("10 ms")->number == doctest::Approx(0.01));
  CHECK(fold("2 min")->number == 120);
  CHECK(fold("50%")->number == 0.5);
  CHECK(fold("50%")->type == Type::Ratio);
  CHECK(fold("1 MB")->number == 1e6);
}

TEST_CASE("arithmetic folds with the unit algebra") {
  CHECK(fold("2 ^ (4 - 1) - 1")->integer == 7);
  CHECK(fold("2 ^ (4 - 1) - 1")->type == Type::Int);
  CHECK(fold("40% * 100 KiB")->type == Type::Bytes);
  CHECK(fold("40% * 100 KiB")->number == doctest::Approx(40960));
  CHECK(fold("1 KiB + 1 B")->number == 1025);
  CHECK(fold("-3")->integer == -3);
}

TEST_CASE("what has no value is not a constant") {
  CHECK_FALSE(fold("1 / 0"));
  CHECK_FALSE(fold("1 KiB + 5%"));
  CHECK_FALSE(fold("9223372036854775807 * 2"));
  CHECK_FALSE(fold("10 ^ 400"));
}

}  // namespace
}  // namespace kmr::sema
