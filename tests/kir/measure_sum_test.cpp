// Sums that only measures read: which sums they are (the layout), their f32 terms added in
// f32 four vectors at a time in the JIT's loops while sums the result reads stay in f64,
// and the accuracy docs/kernels.md promises for them.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <doctest/doctest.h>

#include "compiler/codegen/jit.h"
#include "compiler/codegen/layout.h"
#include "compiler/interp/interpreter.h"
#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kSource = R"(
// Signed terms that cancel, and non-negative ones.
kernel sums(w: tensor) -> tensor {
  measure total = sum(w);
  measure energy = sum(w ^ 2);
  measure average = mean(w);
  yield w;
}

// The result reads the mean; only the measure reads the spread.
kernel centred(w: tensor) -> tensor {
  let m = mean(w);
  measure spread = sum((w - m) ^ 2);
  yield w - m;
}
)";

const passes::PreparedKernel& prepared(const std::string& name) { return shared_kernel(kSource, name); }

// The text of each function of `ir` (optimised LLVM IR), by the end of its name: "p1s0".
std::map<std::string, std::string> functions_of(const std::string& ir) {
  std::map<std::string, std::string> functions;
  std::istringstream lines(ir);
  std::string line, current;
  while (std::getline(lines, line)) {
    if (line.rfind("define ", 0) == 0) {
      auto at = line.find('@'), open = line.find('(', at);
      current = line.substr(at, open - at);
      current = current.substr(current.rfind('_') + 1);
    }
    if (!current.empty()) functions[current] += line + "\n";
    if (line == "}") current.clear();
  }
  return functions;
}

// Per basic block of `function`, how many of its lines contain every one of `parts`.
std::vector<int> lines_per_block(const std::string& function, const std::vector<std::string>& parts) {
  std::vector<int> counts{0};
  std::istringstream lines(function);
  std::string line;
  while (std::getline(lines, line)) {
    bool label = !line.empty() && line[0] != ' ' && line.find(':') != std::string::npos && line.rfind("define", 0) != 0;
    if (label) counts.push_back(0);
    bool all = true;
    for (const auto& part : parts) all &= line.find(part) != std::string::npos;
    counts.back() += all;
  }
  return counts;
}

int most(const std::vector<int>& counts) { return counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end()); }

TEST_CASE("the layout tells the sums only measures read from those the result reads") {
  auto layout = codegen::make_layout(prepared("centred"));
  int means = 0, sums = 0;
  for (const auto& info : layout.nodes) {
    if (info.node->kind != kir::NodeKind::Reduce) continue;
    auto op = static_cast<kir::ReduceOp>(info.node->op);
    if (op == kir::ReduceOp::Mean) {
      CHECK_FALSE(info.only_measured);
      ++means;
    }
    if (op == kir::ReduceOp::Sum) {
      CHECK(info.only_measured);
      ++sums;
    }
  }
  CHECK(means == 1);
  CHECK(sums == 1);
  CHECK_FALSE(layout.nodes[layout.value].only_measured);
}

TEST_CASE("the JIT adds a measured sum's f32 terms in f32, one f64 add a loop; a sum the result reads stays in f64") {
  auto ir = codegen::emit_llvm_ir(prepared("centred"));
  REQUIRE(ir.ok());
  auto functions = functions_of(*ir);
  REQUIRE(functions.count("p0s0"));
  REQUIRE(functions.count("p1s0"));
  // Pass 0 sums w for the mean: every vector part adds its own f64 conversions, unmarked.
  const std::string& mean_sweep = functions["p0s0"];
  CHECK(mean_sweep.find("!fpmath") == std::string::npos);
  CHECK(most(lines_per_block(mean_sweep, {"fadd reassoc <", "x double>"})) >= 2);
  // Pass 1 sums (w - m)^2 for the measure: its parts' terms added as f32 vectors, then one
  // marked f64 add in any block.
  const std::string& spread_sweep = functions["p1s0"];
  CHECK(most(lines_per_block(spread_sweep, {"fadd <", "x float>"})) >= 1);
  CHECK(most(lines_per_block(spread_sweep, {"fadd reassoc <", "x double>", "!fpmath"})) == 1);
}

TEST_CASE("a measured sum is within 2^-22 of its terms' magnitudes of the exact sum, for any thread count") {
  const int64_t rows = 96, cols = 1003;
  auto w = random_weights(rows * cols, 7);
  long double total = 0, magnitudes = 0, energy = 0;
  for (float x : w) total += x, magnitudes += std::fabs(x), energy += static_cast<long double>(x) * x;
  const auto n = static_cast<double>(w.size());
  auto one = test_jit().run(prepared("sums"), view(w, rows, cols), {}, 1);
  auto two = test_jit().run(prepared("sums"), view(w, rows, cols), {}, 2);
  auto reference = interp::run(prepared("sums").kernel, view(w, rows, cols), {});
  REQUIRE(one.ok());
  REQUIRE(reference.ok());
  CHECK(identical(one, two));
  std::map<std::string, double> jit(one->measures.begin(), one->measures.end());
  std::map<std::string, double> interpreted(reference->measures.begin(), reference->measures.end());
  const double bound = std::ldexp(static_cast<double>(magnitudes), -22);
  CHECK(std::fabs(jit["total"] - static_cast<double>(total)) <= bound);
  CHECK(std::fabs(jit["average"] - static_cast<double>(total) / n) <= bound / n);
  CHECK(std::fabs(jit["energy"] - static_cast<double>(energy)) <= std::ldexp(static_cast<double>(energy), -22));
  // The interpreter adds every term in f64: its error is n * 2^-53 of the magnitudes at most.
  CHECK(std::fabs(interpreted["total"] - static_cast<double>(total)) <= n * std::ldexp(static_cast<double>(magnitudes), -53));
  // The sum cancels: the bound is far looser than 2^-22 of the total itself.
  CHECK(std::fabs(static_cast<double>(total)) * 100 < static_cast<double>(magnitudes));
}

TEST_CASE("a mean the result reads gives the interpreter's values within 1 ulp, its measure to 2^-22") {
  auto w = random_weights(33 * 515, 11);
  CHECK(run_both(prepared("centred"), view(w, 33, 515), {}));
}

}  // namespace
}  // namespace kmr::test
