// The parser: precedence, the shapes it builds, comments kept, and syntax error recovery.
#include <doctest/doctest.h>

#include "compile_helpers.h"

namespace kmr::test {
namespace {

TEST_CASE("^ binds tighter than unary minus, which binds tighter than *") {
  std::string ast = ast_of("knob k : int in [0, 9] = -2 ^ 2 * 3;");
  CHECK(ast.find("default: binary *\n"
                 "    lhs: unary -\n"
                 "      operand: binary ^\n") != std::string::npos);
}

TEST_CASE("^ is right-associative and - is left-associative") {
  CHECK(ast_of("knob k : int in [0, 9] = 2 ^ 3 ^ 2;").find("rhs: binary ^") != std::string::npos);
  CHECK(ast_of("knob k : int in [0, 9] = 9 - 3 - 2;").find("lhs: binary -") != std::string::npos);
}

TEST_CASE("|> is the loosest operator and chains to the left") {
  std::string ast = ast_of("pipeline p = base |> prune |> quant;");
  CHECK(ast.find("value: binary |>\n    lhs: binary |>\n      lhs: name base\n      rhs: name prune\n    rhs: name quant") !=
        std::string::npos);
}

TEST_CASE("numbers keep their units and percent makes ratios") {
  std::string ast = ast_of("budget size <= 64 KiB; require acc >= 50%; policy greedy(time_limit = 1.5 min);");
  CHECK(ast.find("number 64 KiB") != std::string::npos);
  CHECK(ast.find("number 50%") != std::string::npos);
  CHECK(ast.find("number 1.5 min") != std::string::npos);
}

TEST_CASE("keywords may name arguments and parameters") {
  CHECK(ast_of("rule s = distill(t, data = train, model = m);").find("arg data") != std::string::npos);
  CHECK(ast_of("native kernel d(m: model, data: data) -> model;").find("param data : data") != std::string::npos);
}

TEST_CASE("else if chains and measure() calls in policies") {
  std::string ast = ast_of(
      "policy p { if measure(a) > 1 { accept; } else if measure(b) > 2 { reject; } else { step k by 1; } }");
  CHECK(ast.find("else if") != std::string::npos);
  CHECK(ast.find("callee: name measure") != std::string::npos);
  CHECK(ast.find("step k") != std::string::npos);
}

TEST_CASE("a missing semicolon is reported after the previous token and does not hide the next error") {
  auto diagnostics = compile("knob a : int in {1, 2} = 1\nknob b : int in {1, 2} = 1;\nknob c : int in {1, 2} = ;\n");
  CHECK(has(diagnostics, "E007@1:27"));
  CHECK(has(diagnostics, "E007@3:26"));
}

TEST_CASE("lexical errors carry their positions in code points") {
  CHECK(has(compile("knob é : int in {1} = 1; $"), "E006@1:26"));
  CHECK(has(compile("/* never closed\nknob a : int in {1} = 1;"), "E005@1:1"));
  CHECK(has(compile("model m = load(\"x.safetensors);"), "E004@1:16"));
  CHECK(has(compile("import \"std/\\quant\";"), "E012@1:13"));
  CHECK(has(compile("budget s <= 4 KiBs;"), "E010@1:15"));
  CHECK(has(compile("knob k : int in [0, 99999999999999999999] = 0;"), "E009@1:21"));
}

}  // namespace
}  // namespace kmr::test
