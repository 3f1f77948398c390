// Trials of the quickstart policy on the baseline model: meters, constraints, objective.
#include <doctest/doctest.h>

#include "engine_fixture.h"
#include "runtime/engine/trial_evaluator.h"
#include "runtime/engine/weight_meters.h"

namespace kmr::engine {
namespace {

const char* kPolicy =
    "data test = fashion_mnist(\"test\", limit = 2000);\n"
    "knob sparsity : ratio in [0%, 90%] step 5% = 0%;\n"
    "knob bits : int in {8, 6, 4, 3, 2} = 8;\n"
    "rule prune = magnitude_prune(sparsity) on base.match(\"fc*.weight\");\n"
    "rule quant = quantize(bits, group = 64) on base.match(\"fc*.weight\");\n"
    "pipeline small = base |> prune |> quant;\n"
    "meter size : bytes = encoded_size(small);\n"
    "meter acc : ratio = top1(small, test);\n"
    "meter drift : float = output_error(small, base, test);\n"
    "meter agree : ratio = agreement(small, base, test);\n"
    "meter err : float = rel_error(small, base);\n"
    "meter half : bytes = size / 2;\n"
    "budget size <= 96 KiB;\n"
    "require acc >= top1(base, test) - 1%;\n"
    "objective maximize acc;\n";

TEST_CASE("a trial measures every meter, tests every constraint and the objective") {
  auto compilation = test::compile_policy(kPolicy);
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();
  auto evaluator = TrialEvaluator::create(compilation->program, *compilation->modules.front(), store, space, test::jit_kernels()).value();

  auto eight = evaluator->evaluate(space.defaults());
  INFO((eight.ok() ? std::string() : eight.error().message));
  REQUIRE(eight.ok());
  double size = eight->meter("size").value();
  CHECK(eight->meter("half").value() == size / 2);
  CHECK(size > 96 * 1024);  // 8 bits do not fit the budget...
  CHECK_FALSE(eight->feasible);
  REQUIRE(eight->constraints.size() == 2);
  CHECK_FALSE(eight->constraints[0].holds);
  CHECK(eight->constraints[0].lhs == size);
  CHECK(eight->constraints[0].rhs == 96 * 1024);
  CHECK(eight->constraints[1].holds);  // ...but lose no accuracy
  CHECK(eight->meter("acc").value() > 0.85);
  CHECK(eight->meter("agree").value() > 0.97);
  CHECK(eight->meter("drift").value() < 0.05);
  CHECK(eight->objective.value() == eight->meter("acc").value());

  // The size meter is exactly the bytes of the tensors the layout writes.
  auto model = evaluator->materialize("small", space.defaults());
  REQUIRE(model.ok());
  uint64_t bytes = 0;
  for (const auto& tensor : model->tensors)
    bytes += tensor.quantized ? runtime::encoded_bytes(*tensor.quantized) : tensor.encoded_bytes;
  CHECK(static_cast<double>(bytes) == size);

  Configuration two = space.defaults();
  two[1] = 4;  // 2 bits
  auto small = evaluator->evaluate(two);
  REQUIRE(small.ok());
  CHECK(small->meter("size").value() < 96 * 1024);
  CHECK(small->constraints[0].holds);
  CHECK(small->meter("drift").value() > eight->meter("drift").value());
  CHECK(small->meter("err").value() > eight->meter("err").value());
}

}  // namespace
}  // namespace kmr::engine
