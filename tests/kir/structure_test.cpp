// Structure of lowered kernels (Futhark style): how pipelines fuse, how many passes over
// the tensor the schedule takes, and the cases that must not fuse.
#include <doctest/doctest.h>

#include "compiler/kir/printer.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kPrelude = R"(import "std/prune";
import "std/quant";
import "std/lowrank";
model base = load("m.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
knob bits : int in {8, 4} = 8;
)";

std::string with(const std::string& body) { return std::string(kPrelude) + body; }

int count(const kir::Kernel& kernel, kir::NodeKind kind) {
  int n = 0;
  for (const auto* node : kir::topological_order(kernel.roots())) n += node->kind == kind;
  return n;
}

TEST_CASE("prune |> quant lowers to one kernel with one pre-pass") {
  auto source = with(R"(rule prune = magnitude_prune(sparsity) on base.match("fc*.weight");
rule quant = quantize(bits) on base.match("fc*.weight");
pipeline small = base |> prune |> quant;
)");
  auto steps = steps_of(source, "small");
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].rules == std::vector<std::string>{"prune", "quant"});
  auto kernel = kernel_named(source, "small:prune|>quant");
  CHECK(kernel.kernel.result == kir::ResultKind::Quantized);
  CHECK(count(kernel.kernel, kir::NodeKind::Input) == 1);  // reads the original weight, once
  CHECK(count(kernel.kernel, kir::NodeKind::Quantile) == 1);
  CHECK(count(kernel.kernel, kir::NodeKind::RankCmp) == 1);
  CHECK(kernel.schedule.passes.size() == 2);
  CHECK(kernel.schedule.output_pass == 1);  // one pre-pass: the global quantile
  // The row max of the pruned weights (the scale) comes from each row's max in the
  // pre-pass and the threshold: the output pass is one sweep.
  CHECK(kernel.schedule.passes[0].sweeps[0].reductions.size() == 2);  // the quantile, the row max of |w|
  CHECK(kernel.schedule.passes[1].sweeps.size() == 1);
  CHECK(kernel.schedule.kept_row_max.size() == 1);
  CHECK(kernel.kernel.measures.size() == 1);
  CHECK(kernel.kernel.measures[0].name == "quant.sqerr");
}

TEST_CASE("a row max of pruned values needs no sweep only when it is the pruned magnitudes' max") {
  auto kernels = kernels_of(with(R"(kernel signed_max(w: tensor, s: ratio) -> tensor {
  let t = quantile(w, s);
  yield w / max(select(w >= t, w, 0.0), over = row);
}
kernel strict(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s);
  yield w / max(select(abs(w) > t, abs(w), 0.0), over = row);
}
kernel magnitudes(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s);
  yield w / max(select(abs(w) >= t, abs(w), 0.0), over = row);
}
kernel in_groups(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s);
  yield w / max(select(abs(w) >= t, abs(w), 0.0), over = group(4));
}
)"));
  auto named = [&](const std::string& name) {
    for (const auto& k : kernels)
      if (k.kernel.name == name) return k;
    FAIL("no kernel " << name);
    return kernels.front();
  };
  CHECK(named("signed_max").schedule.kept_row_max.empty());  // w may be negative: pruned zeros can be the max
  CHECK(named("strict").schedule.kept_row_max.empty());      // > keeps ties by position only for >=
  CHECK(named("in_groups").schedule.kept_row_max.empty());
  auto magnitudes = named("magnitudes");
  CHECK(magnitudes.schedule.kept_row_max.size() == 1);
  CHECK(magnitudes.schedule.passes.size() == 2);
  CHECK(magnitudes.schedule.passes[1].sweeps.size() == 1);
  CHECK(passes::print_schedule(magnitudes.kernel, magnitudes.schedule).find("else 0 (no sweep)") != std::string::npos);
}

TEST_CASE("per-row quantisation is one pass: the row max and the codes in one row loop") {
  auto kernel = kernel_named(with(""), "quantize");
  CHECK(kernel.schedule.passes.size() == 1);
  CHECK(kernel.schedule.output_pass == 0);
  REQUIRE(kernel.schedule.passes[0].sweeps.size() == 2);
  CHECK(kernel.schedule.passes[0].sweeps[0].check_input);
  CHECK(kernel.schedule.passes[0].sweeps[0].reductions.size() == 1);
  CHECK(kernel.schedule.passes[0].sweeps[1].output);
  // The fused meter is accumulated in the output's loop, not in a pass of its own.
  CHECK(kernel.schedule.passes[0].sweeps[1].reductions.size() == 1);
}

TEST_CASE("a reduction of a reduction over all goes one pass later") {
  auto kernel = kernel_named(with(R"(kernel center2(w: tensor) -> tensor {
  let m = mean(w);
  let v = mean((w - m) ^ 2);
  yield (w - m) / sqrt(v);
}
)"), "center2");
  CHECK(kernel.schedule.passes.size() == 3);
  CHECK(kernel.schedule.output_pass == 2);
}

TEST_CASE("row pruning needs the row norms of every row before the threshold") {
  auto kernel = kernel_named(with(""), "row_prune");
  CHECK(kernel.schedule.passes.size() == 2);
  CHECK(kernel.schedule.output_pass == 1);
  CHECK(count(kernel.kernel, kir::NodeKind::RankCmp) == 1);
}

TEST_CASE("CSE shares the repeated abs(w) and constant folding evaluates constant arguments") {
  auto source = with(R"(rule quant = quantize(8, group = 64) on base.match("fc*.weight");
pipeline p = base |> quant;
)");
  auto kernel = kernel_named(source, "p:quant");
  CHECK(kernel.kernel.params.empty());
  // qmax = 2^(8-1)-1 folds to 127.
  bool has_127 = false;
  for (const auto* node : kir::topological_order(kernel.kernel.roots()))
    has_127 |= node->kind == kir::NodeKind::Const && node->value == 127;
  CHECK(has_127);
  auto prune = kernel_named(with(""), "magnitude_prune");
  CHECK(count(prune.kernel, kir::NodeKind::Input) == 1);
  int abs_nodes = 0;
  for (const auto* node : kir::topological_order(prune.kernel.roots()))
    abs_nodes += node->kind == kir::NodeKind::Unary && node->op == static_cast<int>(kir::UnaryOp::Abs);
  CHECK(abs_nodes == 1);
}

TEST_CASE("must not fuse: after quantized codes, across a native rule, across selections") {
  SUBCASE("a rule after a quantizing rule starts a new kernel") {
    auto steps = steps_of(with(R"(rule quant = quantize(bits) on base.match("fc*.weight");
rule prune = magnitude_prune(sparsity) on base.match("fc*.weight");
pipeline p = base |> quant |> prune;
)"), "p");
    CHECK(steps.size() == 2);
  }
  SUBCASE("a native rule runs outside KIR") {
    auto steps = steps_of(with(R"(rule prune = magnitude_prune(sparsity) on base.match("fc*.weight");
rule low = lowrank(8) on base.match("fc*.weight");
rule quant = quantize(bits) on base.match("fc*.weight");
pipeline p = base |> prune |> low |> quant;
)"), "p");
    REQUIRE(steps.size() == 3);
    CHECK_FALSE(steps[1].kernel.has_value());
    CHECK(steps[1].native == "lowrank");
  }
  SUBCASE("rules on different selections") {
    auto steps = steps_of(with(R"(rule prune = magnitude_prune(sparsity) on base.match("fc1.weight");
rule quant = quantize(bits) on base.match("fc*.weight");
pipeline p = base |> prune |> quant;
)"), "p");
    CHECK(steps.size() == 2);
  }
}

TEST_CASE("inlining a kernel call, and if on a parameter becomes select") {
  auto kernel = kernel_named(with(R"(kernel twice(w: tensor, s: ratio) -> tensor {
  let p = magnitude_prune(w, s);
  if s > 0.5 {
    yield p * 2.0;
  }
  yield p;
}
)"), "twice");
  CHECK(count(kernel.kernel, kir::NodeKind::Quantile) == 1);
  CHECK(count(kernel.kernel, kir::NodeKind::Select) == 2);
}

TEST_CASE("what KIR cannot express is a diagnostic, not a crash") {
  auto errors = lowering_errors(with(R"(kernel k(w: tensor) -> qtensor {
  yield quantized(w, w, bits = 8);
}
)"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "E064@8:22");
}

}  // namespace
}  // namespace kmr::test
