// Resolution and type checking: each rule of the checker on a minimal program.
#include <doctest/doctest.h>

#include "compile_helpers.h"

namespace kmr::test {
namespace {

const char* kPrelude =
    "import \"std/prune\";\nimport \"std/quant\";\n"
    "model base = load(\"m.safetensors\", arch = mlp(act = relu));\n"
    "data test = fashion_mnist(\"test\");\n";

std::vector<std::string> with_prelude(const std::string& body) { return compile(kPrelude + body); }

TEST_CASE("a complete policy checks cleanly") {
  auto diagnostics = with_prelude(
      "knob s : ratio in [0%, 90%] step 5% = 0%;\n"
      "knob bits[t in base.match(\"fc*.weight\")] : int in {8, 4} = 8;\n"
      "rule prune = magnitude_prune(s) on base.match(\"fc*.weight\");\n"
      "rule quant = quantize(bits, group = 64) on base.match(\"fc*.weight\");\n"
      "pipeline small = base |> prune |> quant;\n"
      "meter size : bytes = encoded_size(small);\n"
      "meter acc : ratio = top1(small, test);\n"
      "budget size <= 40% * encoded_size(base);\n"
      "require acc >= top1(base, test) - 1%;\n"
      "objective maximize acc;\n"
      "policy greedy(max_trials = 10, time_limit = 1 min);\n"
      "save small to \"out/x.safetensors\";\nreport to \"out/r.json\";\n");
  CHECK(diagnostics.empty());
}

TEST_CASE("knob domains: default inside, step divides, sane bounds, right types") {
  CHECK(has(compile("knob k : int in {8, 4} = 5;"), "E050@1:26"));
  CHECK(has(compile("knob k : ratio in [0%, 50%] step 5% = 7%;"), "E050"));
  CHECK(has(compile("knob k : int in [0, 10] step 3 = 0;"), "E051"));
  CHECK(has(compile("knob k : int in [10, 0] step 1 = 0;"), "E052"));
  CHECK(has(compile("knob k : int in [0, 10] step 0 = 0;"), "E052"));
  CHECK(has(compile("knob k : int in {8, 8} = 8;"), "E052"));
  CHECK(has(compile("knob k : int = 8;"), "E052"));
  CHECK(has(compile("knob k : bytes in {1 KiB} = 1 KiB;"), "E052"));
  CHECK(has(compile("knob k : int in {8, 4.5} = 8;"), "E040"));
  CHECK(has(compile("knob k : ratio in [0%, 150%] = 0%;"), "E044@1:24"));
  CHECK(has(compile("knob k : float in [1.0, 8.0] step 1.0 = 4.0; knob k2 : bool = true;"), "W001"));
  CHECK_FALSE(has(compile("knob k : float in [1.0, 8.0] step 0.5 = 4.5;"), "E0"));
}

TEST_CASE("names resolve across the file in any order, and only once") {
  CHECK_FALSE(has(with_prelude("rule q = quantize(b) on base.match(\"fc1.weight\");\nknob b : int in {8} = 8;\n"), "E0"));
  CHECK(has(compile("knob a : int in {1} = 1;\nmeter a : int = 1;"), "E030@2:7"));
  CHECK(has(with_prelude("rule q = quantize(nope) on base.match(\"x\");"), "E031"));
}

TEST_CASE("rules: a kernel call with the right arguments on a selection") {
  CHECK(has(with_prelude("rule q = quantize(8, grp = 3) on base.match(\"x\");"), "E043"));
  CHECK(has(with_prelude("rule q = quantize() on base.match(\"x\");"), "E043"));
  CHECK(has(with_prelude("rule q = quantize(8, 32, 1) on base.match(\"x\");"), "E043"));
  CHECK(has(with_prelude("rule q = quantize(8, bits = 4) on base.match(\"x\");"), "E043"));
  CHECK(has(with_prelude("rule q = quantize(\"eight\") on base.match(\"x\");"), "E040"));
  CHECK(has(with_prelude("rule q = quantize(8);"), "E060"));
  CHECK(has(with_prelude("rule q = quantize(8) on base;"), "E040"));
  CHECK(has(with_prelude("rule q = base(8) on base.match(\"x\");"), "E032"));
  CHECK(has(with_prelude("knob b[t in base.match(\"fc1.*\")] : int in {8} = 8;\n"
                         "rule q = quantize(b) on base.match(\"fc*.weight\");"),
            "E063"));
}

TEST_CASE("pipelines compose a model with rules and must not loop") {
  CHECK(has(compile("pipeline a = b;\npipeline b = a;"), "E033"));
  CHECK(has(with_prelude("pipeline p = base |> test;"), "E032"));
  CHECK(has(with_prelude("pipeline p = base |> nothing;"), "E031"));
}

TEST_CASE("meters, budgets, requirements and objectives are typed by unit") {
  CHECK(has(with_prelude("meter m : bytes = top1(base, test);"), "E040"));
  CHECK(has(with_prelude("meter a : int = 1 + b;\nmeter b : int = a;"), "E033"));
  CHECK(has(with_prelude("meter s : bytes = encoded_size(base);\nbudget s + 5% <= 1 KiB;"), "E041"));
  CHECK(has(with_prelude("meter s : bytes = encoded_size(base);\nbudget s == 1 KiB;"), "E070"));
  CHECK(has(with_prelude("budget 1 KiB <= 2 KiB;"), "E070"));
  CHECK(has(with_prelude("meter a : ratio = top1(base, test);\nrequire a + 1%;"), "E071"));
  CHECK(has(with_prelude("meter a : ratio = top1(base, test);\nobjective maximize a > 5%;"), "E072"));
  CHECK(has(with_prelude("meter a : ratio = top1(base, test);\nobjective maximize a;\nobjective minimize a;"), "E072"));
}

TEST_CASE("kernels: statements, types and a yield on every path") {
  CHECK(has(compile("kernel k(w: tensor) -> tensor { let x = w; }"), "E061"));
  CHECK(has(compile("kernel k(w: tensor, b: bool) -> tensor { if b { yield w; } }"), "E061"));
  CHECK_FALSE(has(compile("kernel k(w: tensor, b: bool) -> tensor { if b { yield w; } else { yield 0.0; } }"), "E0"));
  CHECK(has(compile("kernel k(w: tensor) -> tensor { set x = 1; yield w; }"), "E062"));
  CHECK(has(compile("kernel k(w: tensor) -> qtensor { yield w; }"), "E040"));
  CHECK(has(compile("kernel k(w: tensor) -> tensor { if w > 0.0 { yield w; } else { yield w; } }"), "E064"));
  CHECK(has(compile("kernel k(w: tensor) -> tensor { measure m = sum(w, over = row); yield w; }"), "E064"));
  CHECK(has(compile("kernel k(w: tensor) -> tensor { yield max(w, over = rows); }"), "E043"));
  CHECK(has(compile("kernel a(w: tensor) -> tensor { yield b(w); }\nkernel b(w: tensor) -> tensor { yield a(w); }"),
            "E033"));
  CHECK(has(compile("kernel k(n: int) -> tensor { yield n; }"), "E064"));
}

TEST_CASE("scripted policies change only knobs and read meters with measure()") {
  const char* decls = "knob s : ratio in [0%, 50%] step 5% = 0%;\nmeter size : bytes = encoded_size(base);\n";
  CHECK_FALSE(has(with_prelude(std::string(decls) +
                               "policy p { for b in [1, 2] { step s by 5%; } while measure(size) > 1 KiB { step s by 5%; } "
                               "if s < 50% { accept; } reject; }"),
                  "E0"));
  CHECK(has(with_prelude(std::string(decls) + "policy p { set size = 1 KiB; }"), "E032"));
  CHECK(has(with_prelude(std::string(decls) + "policy p { if size > 1 KiB { accept; } }"), "E032"));
  CHECK(has(with_prelude(std::string(decls) + "policy p { step s by 1 KiB; }"), "E046"));
  CHECK(has(with_prelude(std::string(decls) + "policy p { yield s; }"), "E062"));
  CHECK(has(with_prelude(std::string(decls) + "policy p { while 1 { accept; } }"), "E040"));
  CHECK(has(with_prelude("policy fancy(max_trials = 3);"), "E080"));
  CHECK(has(with_prelude("policy greedy(max_trials = 0);"), "E080"));
  CHECK(has(with_prelude("policy greedy(time_limit = 10 KiB);"), "E046"));
}

TEST_CASE("imports: the stdlib by name, with a hint when one is missing") {
  CHECK(has(compile("import \"std/nothing\";"), "E020"));
  CHECK(has(compile("rule p = magnitude_prune(50%) on m.match(\"x\");"), "E031"));
}

}  // namespace
}  // namespace kmr::test
