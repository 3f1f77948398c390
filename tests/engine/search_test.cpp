// The built-in policies on a space small enough to search exhaustively: grid finds the
// optimum, greedy comes within 10% of it in fewer trials, bisect finds the boundary, and
// pareto's frontier is monotone.
#include <doctest/doctest.h>

#include "engine_fixture.h"
#include "runtime/engine/search.h"

namespace kmr::engine {
namespace {

// Mixed precision over the three weights: 4 x 4 x 4 = 64 configurations.
const char* kMixed =
    "knob bits[t in base.match(\"fc*.weight\")] : int in {8, 6, 4, 2} = 8;\n"
    "rule quant = quantize(bits, group = 32) on base.match(\"fc*.weight\");\n"
    "pipeline q = base |> quant;\n"
    "meter size : bytes = encoded_size(q);\n"
    "meter err : float = rel_error(q, base);\n"
    "budget size <= 120 KiB;\n"
    "objective minimize err;\n";

struct Fixture {
  std::unique_ptr<driver::Compilation> compilation;
  ModelStore store;
  KnobSpace space;
  std::unique_ptr<TrialEvaluator> evaluator;

  explicit Fixture(const char* policy) : compilation(test::compile_policy(policy)) {
    space = build_knob_space(compilation->program).value();
    evaluator = TrialEvaluator::create(compilation->program, *compilation->modules.front(), store, space, test::jit_kernels()).value();
  }
};

TEST_CASE("greedy reaches a feasible configuration within 10% of the grid's optimum, in fewer trials") {
  Fixture f(kMixed);
  SearchLimits limits;
  limits.max_trials = 1000;
  auto grid = grid_search(*f.evaluator, f.space, limits, false);
  REQUIRE(grid.ok());
  CHECK(grid->trials.size() == 64);
  CHECK(grid->notes.empty());
  REQUIRE(grid->chosen.has_value());
  const TrialResult& optimum = grid->trials[*grid->chosen];
  for (const auto& trial : grid->trials)
    if (trial.feasible) CHECK(*trial.objective >= *optimum.objective);

  auto greedy = greedy_search(*f.evaluator, f.space, limits, false);
  REQUIRE(greedy.ok());
  REQUIRE(greedy->chosen.has_value());
  const TrialResult& found = greedy->trials[*greedy->chosen];
  CHECK(found.feasible);
  CHECK(*found.objective <= *optimum.objective * 1.10);
  CHECK(greedy->trials.size() < grid->trials.size());
}

TEST_CASE("greedy crosses a cost plateau and leaves a knob that moves no budget alone") {
  // At 8 bits the model's small weights already round to zero, so pruning the first 15% of
  // weights changes no byte of the encoded size; the budget needs 55%. `t` shapes only
  // the objective, so every one of its values leaves the size where it was.
  Fixture f(
      "knob s : ratio in [0%, 90%] step 5% = 0%;\n"
      "knob t : int in {2, 3, 4, 5, 6, 7, 8} = 5;\n"
      "rule prune = magnitude_prune(s) on base.match(\"fc*.weight\");\n"
      "rule quant = quantize(8) on base.match(\"fc*.weight\");\n"
      "rule probe = quantize(t) on base.match(\"fc3.weight\");\n"
      "pipeline small = base |> prune |> quant;\n"
      "pipeline probed = base |> probe;\n"
      "meter size : bytes = encoded_size(small);\n"
      "meter err : float = rel_error(probed, base);\n"
      "budget size <= 140 KiB;\n"
      "objective minimize err;\n");
  const size_t s = static_cast<size_t>(f.space.find("s"));
  const size_t t = static_cast<size_t>(f.space.find("t"));
  SearchLimits limits;
  auto greedy = greedy_search(*f.evaluator, f.space, limits, false);
  REQUIRE_MESSAGE(greedy.ok(), greedy.error().message);
  auto size_at = [&](double sparsity) -> std::optional<double> {
    for (const auto& trial : greedy->trials)
      if (trial.config[t] == f.space.slots[t].default_index &&
          std::abs(f.space.slots[s].values[trial.config[s]] - sparsity) < 1e-9)
        return trial.meter("size").value();
    return std::nullopt;
  };
  // The plateau is real: one step of s saves nothing.
  REQUIRE(size_at(0.0).has_value());
  REQUIRE(size_at(0.05).has_value());
  CHECK(*size_at(0.05) == *size_at(0.0));

  REQUIRE(greedy->chosen.has_value());
  const TrialResult& chosen = greedy->trials[*greedy->chosen];
  CHECK(chosen.feasible);
  CHECK(f.space.slots[s].values[chosen.config[s]] == doctest::Approx(0.55));
  // t was swept once, out from its default both ways (3 + 3 trials), then left alone.
  size_t moved_t = 0;
  for (const auto& trial : greedy->trials) moved_t += trial.config[t] != f.space.slots[t].default_index;
  CHECK(moved_t == 6);
}

TEST_CASE("grid says when it is capped") {
  Fixture f(kMixed);
  SearchLimits limits;
  limits.max_trials = 10;
  auto grid = grid_search(*f.evaluator, f.space, limits, false);
  REQUIRE(grid.ok());
  CHECK(grid->trials.size() == 10);
  REQUIRE(grid->notes.size() == 1);
  CHECK(grid->notes[0] == "grid capped: 10 of 64 configurations measured");
}

TEST_CASE("bisect finds the least-compressing value that fits") {
  Fixture f(
      "knob bits : int in {8, 7, 6, 5, 4, 3, 2} = 8;\n"
      "rule quant = quantize(bits, group = 32) on base.match(\"fc*.weight\");\n"
      "pipeline q = base |> quant;\n"
      "meter size : bytes = encoded_size(q);\n"
      "budget size <= 120 KiB;\n");
  SearchLimits limits;
  auto bisect = bisect_search(*f.evaluator, f.space, 0, limits, true);
  REQUIRE(bisect.ok());
  REQUIRE(bisect->chosen.has_value());
  const TrialResult& chosen = bisect->trials[*bisect->chosen];
  CHECK(chosen.feasible);
  CHECK(bisect->trials.size() < 7);
  // One bit more does not fit.
  Configuration wider = chosen.config;
  wider[0] -= 1;
  auto trial = f.evaluator->evaluate(wider);
  REQUIRE(trial.ok());
  CHECK_FALSE(trial->feasible);
}

TEST_CASE("pareto's frontier gets better as it gets costlier") {
  Fixture f(kMixed);
  SearchLimits limits;
  auto pareto = pareto_search(*f.evaluator, f.space, limits, false);
  REQUIRE(pareto.ok());
  REQUIRE(pareto->frontier.size() >= 3);
  for (size_t i = 1; i < pareto->frontier.size(); ++i) {
    const TrialResult& cheaper = pareto->trials[pareto->frontier[i - 1]];
    const TrialResult& dearer = pareto->trials[pareto->frontier[i]];
    CHECK(cheaper.constraints[0].lhs <= dearer.constraints[0].lhs);
    CHECK(*dearer.objective < *cheaper.objective);
  }
}

}  // namespace
}  // namespace kmr::engine
