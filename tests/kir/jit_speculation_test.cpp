// Layout::speculation: prune (alone or fused into a per-row quantiser) in one read of the
// tensor on an estimate of the threshold, then fixed. Which kernels qualify, and the
// interpreter's results whatever the estimate: units and rows fixed, failures flagged on
// the estimate only, real failures, bad weights, sums and counts kept exact.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "compiler/codegen/executor_testing.h"
#include "compiler/codegen/layout.h"
#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const std::string kSource = pipeline_preamble() + R"(
rule p = magnitude_prune(sparsity) on base.match("fc*.weight");
rule q = quantize(8) on base.match("fc*.weight");
rule g = quantize(8, group = 4) on base.match("fc*.weight");
pipeline per_row = base |> p |> q;
pipeline per_group = base |> p |> g;

// Sums and counts in the output pass, both fixed per unit.
kernel counted(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s, over = all);
  let kept = select(abs(w) >= t, w, 0.0);
  measure nonzero = count(kept, over = all);
  measure average = mean(abs(kept));
  measure energy = sum(kept ^ 2, over = all);
  yield kept * 2.0;
}

// A kept zero weight has log -inf: the output is not finite.
kernel logged(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s, over = all);
  yield select(abs(w) >= t, log(abs(w)), 0.0);
}

// Reads the threshold's value itself: cannot be fixed per unit.
kernel reads_threshold(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s, over = all);
  yield select(abs(w) >= t, w, t);
}
)";

const passes::PreparedKernel& prepared(const std::string& name) { return shared_kernel(kSource, name); }

bool one_read(const std::string& name) { return codegen::make_layout(prepared(name)).speculation.quantile >= 0; }

// Runs both engines with the estimate moved by each offset (in sample ranks), and checks
// that the one-read path ran.
void run_offsets(const std::string& name, const std::vector<float>& w, int64_t rows, int64_t cols,
                 const kir::ParamValues& params, std::initializer_list<int64_t> offsets) {
  for (int64_t offset : offsets) {
    CAPTURE(offset);
    codegen::testing::EstimateOffset moved(offset);
    int64_t before = codegen::testing::one_read_runs();
    run_both(prepared(name), view(w, rows, cols, "fc1.weight"), params);
    CHECK(codegen::testing::one_read_runs() > before);
  }
}

TEST_CASE("which kernels run in one read of the tensor") {
  CHECK(one_read("magnitude_prune"));
  CHECK(one_read("per_row:p|>q"));
  CHECK(one_read("counted"));
  CHECK(one_read("logged"));
  CHECK_FALSE(one_read("per_group:p|>g"));     // group values
  CHECK_FALSE(one_read("reads_threshold"));    // the threshold's value read per unit
  CHECK_FALSE(one_read("magnitude_prune_rows"));  // no quantile over all
  CHECK_FALSE(one_read("quantize"));           // one pass
  // `kmrc emit kir` says so under the schedule.
  const auto& prune = prepared("magnitude_prune");
  CHECK(codegen::describe_speculation(prune.kernel, codegen::make_layout(prune)).find("in one read") != std::string::npos);
  const auto& rows = prepared("magnitude_prune_rows");
  CHECK(codegen::describe_speculation(rows.kernel, codegen::make_layout(rows)).empty());
}

TEST_CASE("one read: the interpreter's results wherever the estimate lands in the bracket") {
  // 300 x 300: above 65,536 units, so the bracket is sampled (76,800 units, margin ~300 ranks).
  auto gauss = random_weights(300 * 300, 41, false);
  auto ties = random_weights(300 * 300, 42, true);
  for (double s : {0.1, 0.5, 0.97}) {
    CAPTURE(s);
    for (const auto* w : {&gauss, &ties}) {
      run_offsets("magnitude_prune", *w, 300, 300, {s}, {-250, -20, 0, 20, 250});
      run_offsets("per_row:p|>q", *w, 300, 300, {s}, {-250, 0, 250});
      run_offsets("counted", *w, 300, 300, {s}, {-250, 0, 250});
    }
  }
  // Too many candidates for the cap: the threshold is found by the fallback, and the output
  // pass runs again on it.
  codegen::testing::CandidateCapOverride cap(1000);
  run_offsets("per_row:p|>q", gauss, 300, 300, {0.5}, {0, 250});
}

TEST_CASE("one read: the same with the portable scans (the selection's digit ranges without AVX-512)") {
  auto gauss = random_weights(300 * 300, 41, false);
  for (int width : {16, 1}) {
    codegen::testing::ScanWidthOverride scan(width);
    CAPTURE(width);
    run_offsets("per_row:p|>q", gauss, 300, 300, {0.5}, {-250, 0, 250});
    run_offsets("magnitude_prune", gauss, 300, 300, {0.3}, {-20, 20});
  }
}

TEST_CASE("one read: rows whose maximum lies between the estimate and the threshold run again") {
  // Even rows all of magnitude 1 (their maximum is 1), odd rows spread over (0, 2): at 50%
  // the threshold is 1 and its unit is in a middle row, so the rows kept depend on it.
  auto w = random_weights(320 * 256, 43, false);
  for (int64_t r = 0; r < 320; ++r)
    for (int64_t c = 0; c < 256; ++c) {
      float& x = w[r * 256 + c];
      x = r % 2 == 0 ? (x < 0 ? -1.0f : 1.0f) : std::fmod(std::fabs(x), 2.0f);
    }
  for (double s : {0.25, 0.45, 0.5, 0.55, 0.75}) {
    CAPTURE(s);
    run_offsets("per_row:p|>q", w, 320, 256, {s}, {-280, -100, 0, 100, 280});
  }
}

TEST_CASE("one read: failures flagged on the estimate but not on the threshold, and real ones") {
  // 5% zeros (the smallest magnitudes): pruning 5% removes exactly them, so every log is
  // finite; an estimate of 0 keeps them and flags -inf outputs, which must not fail the run.
  auto w = random_weights(300 * 300, 44, false);
  for (size_t i = 0; i < w.size(); i += 20) w[i] = 0.0f;
  run_offsets("logged", w, 300, 300, {0.05}, {-300, -150, 0, 150});
  run_offsets("logged", w, 300, 300, {0.04}, {-200, 0, 200});  // zeros kept: the interpreter's error
  // Bad weights are reported before anything else, as in two passes.
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto with_bad = random_weights(300 * 300, 45, false);
    with_bad[12345] = bad;
    run_offsets("per_row:p|>q", with_bad, 300, 300, {0.5}, {0});
  }
}

TEST_CASE("one read and two reads: the same outputs, the same measures to rounding") {
  auto w = random_weights(512 * 300, 46, true);
  for (const char* name : {"magnitude_prune", "per_row:p|>q", "counted"}) {
    CAPTURE(name);
    const kir::ParamValues params{0.3};
    auto one = [&] {
      codegen::testing::EstimateOffset moved(200);
      return test_jit().run(prepared(name), view(w, 512, 300, "fc1.weight"), params, 2);
    }();
    auto two = [&] {
      codegen::testing::SpeculationOverride off(false);
      return test_jit().run(prepared(name), view(w, 512, 300, "fc1.weight"), params, 2);
    }();
    if (!one.ok()) MESSAGE(one.error().message);
    REQUIRE(one.ok());
    REQUIRE(two.ok());
    CHECK(one->values == two->values);
    CHECK(one->codes == two->codes);
    CHECK(one->scales == two->scales);
    REQUIRE(one->measures.size() == two->measures.size());
    for (size_t i = 0; i < one->measures.size(); ++i)
      CHECK(one->measures[i].second == doctest::Approx(two->measures[i].second).epsilon(kMeasureTolerance));
  }
}

}  // namespace
}  // namespace kmr::test
