// The JIT against the interpreter on every KIR construct the stdlib does not use (all
// reductions, rank comparisons, coarse domains, values kept across passes), on its
// exact-quantile fallbacks, and on bad input: the same errors, never a crash.
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include "compiler/codegen/executor_testing.h"
#include "compiler/interp/interpreter.h"
#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kStd() { return "import \"std/prune\";\nimport \"std/quant\";\n"; }

const char* kKernels = R"(import "std/prune";
import "std/quant";

kernel sink(w: tensor, a: float = 0.5) -> tensor {
  let m = mean(w, over = row);
  let c = count(w > 0.0, over = group(8));
  let lo = min(w, over = row);
  let s = sum(abs(w), over = all);
  let e = select(w > m and not (w < lo + a), exp(w * 0.1), floor(w) + ceil(w) + sign(w));
  measure total = s;
  measure nz = count(w, over = all);
  measure mx = max(w * 2.0);
  measure mn = mean(w);
  measure lowest = min(w, over = all);
  yield e * c + w ^ 3.0 + s / 1000.0 + max(w, 0.25) - min(w, -0.25);
}

kernel ranks(w: tensor, s: ratio) -> tensor {
  let t = quantile(abs(w), s, over = row);
  let u = quantile(w, s, over = all);
  let g = quantile(w, s, over = group(5));
  yield select(abs(w) > t, 1.0, 0.0) + select(abs(w) <= t, 2.0, 0.0) + select(w < u, 4.0, 0.0)
      + select(w == u, 8.0, 0.0) + select(w != g, 16.0, 0.0) + select(g >= w, 32.0, 0.0) + u + g;
}

kernel coarse(w: tensor, s: ratio) -> tensor {
  let gm = max(abs(w), over = group(4));
  let rm = mean(gm, over = row);
  let rq = quantile(gm, s, over = row);
  let norm = sqrt(sum(w ^ 2, over = row));
  let t = quantile(norm, s, over = all);
  let gt = sum(gm, over = all);
  measure m = max(norm);
  measure groups = count(gm > 1.0);
  yield select(norm >= t, w, 0.0) + select(gm >= rq, rm, 0.0) + gt * 0.001;
}

kernel rowscaled(w: tensor, s: ratio) -> tensor {
  let m = max(abs(w), over = row);
  let t = quantile(abs(w), s, over = all);
  yield select(abs(w) >= t, w / m, 0.0);
}

kernel later(w: tensor) -> tensor {
  let gm = max(abs(w), over = group(4));
  let total = sum(w);
  yield w / gm + total;
}

kernel center(w: tensor) -> tensor {
  let m = mean(w);
  let v = mean((w - m) ^ 2);
  yield (w - m) / sqrt(v);
}

kernel broadcast(w: tensor, a: float = 0.25) -> tensor {
  let s = sum(a, over = row);
  let m = max(a, over = group(3));
  let q = quantile(a, 0.5, over = row);
  let qa = quantile(a * 2.0, 0.5, over = all);
  measure n = count(select(a > 0.0, 1.0, 0.0), over = all);
  yield w * s + m + q + qa;
}

kernel branchy(w: tensor, s: ratio, fine: bool = true) -> tensor {
  if fine {
    yield magnitude_prune(w, s) * 2.0;
  }
  yield magnitude_prune_rows(w, s);
}

kernel lg(w: tensor) -> tensor {
  yield log(w);
}

kernel rt(w: tensor) -> tensor {
  let r = sqrt(w);
  measure m = sum(r);
  yield w;
}

kernel thresholds(w: tensor, s: ratio) -> tensor {
  let a = quantile(abs(w), s, over = all);
  let r = quantile(w, s, over = row);
  let l = log(abs(w));
  let t = quantile(l, s, over = all);
  let big = max(w, -1.0) * 1.0e38 * 1.0e38;
  let b = quantile(big, s, over = all);
  yield select(abs(w) > a, 1.0, 0.0) + select(abs(w) >= a, 2.0, 0.0) + select(abs(w) < a, 4.0, 0.0)
      + select(abs(w) <= a, 8.0, 0.0) + select(w > r, 16.0, 0.0) + select(w >= r, 32.0, 0.0)
      + select(w < r, 64.0, 0.0) + select(w <= r, 128.0, 0.0) + select(l >= t, 256.0, 0.0)
      + select(l > t, 512.0, 0.0) + select(big >= b, 1024.0, 0.0) + select(big > b, 2048.0, 0.0);
}

kernel blowup(w: tensor) -> tensor {
  yield exp(w * 100.0);
}

kernel badcode(w: tensor) -> qtensor {
  yield quantized(exp(w * 100.0), 1.0, bits = 8);
}

kernel badscale(w: tensor) -> qtensor {
  let scale = max(exp(abs(w) * 100.0), over = row);
  yield quantized(clamp(round(w / scale), -127, 127), scale, bits = 8);
}

kernel badmeasure(w: tensor) -> tensor {
  measure m = sum(exp(w * 100.0));
  yield w;
}
)";

const std::pair<int64_t, int64_t> kShapes[] = {{1, 1}, {1, 23}, {17, 1}, {6, 20}, {9, 41}, {0, 5}, {3, 0}};

void sweep(const std::string& name, const kir::ParamValues& params) {
  auto kernel = kernel_named(kKernels, name);
  uint64_t seed = 100;
  for (auto [rows, cols] : kShapes)
    for (bool ties : {false, true}) {
      auto w = random_weights(rows * cols, seed++, ties);
      CAPTURE(name);
      CAPTURE(rows);
      CAPTURE(cols);
      run_both(kernel, view(w, rows, cols), params);
    }
}

TEST_CASE("JIT = interpreter on every reduction, rank comparison and coarse domain") {
  sweep("sink", {0.5});
  for (double s : {0.0, 0.4, 1.0}) {
    sweep("ranks", {s});
    sweep("coarse", {s});
    sweep("branchy", {s, 1.0});
    sweep("branchy", {s, 0.0});
  }
  sweep("later", {});
  sweep("center", {});
  sweep("broadcast", {0.25});
  sweep("broadcast", {-1.5});
}

TEST_CASE("rank comparisons at the float range's edges: zeros, subnormals, the largest numbers, -inf") {
  // Where the compared value is never -inf the JIT compares with one threshold per chunk
  // (x > Q before the unit's column, x > Q's predecessor after it); log(|w|) of a zero is
  // -inf, and so is max(w, -1) * 1e38 * 1e38 of a negative weight (an f32 overflow that
  // the value range, computed in f64, bounds at -1e76): both take the general comparison.
  const float denorm = std::numeric_limits<float>::denorm_min(), tiny = std::numeric_limits<float>::min(),
              big = std::numeric_limits<float>::max();
  const float pool[] = {0.0f, -0.0f, denorm, -denorm, 2 * denorm, tiny, -tiny, 1.0f, std::nextafter(1.0f, 2.0f), -1.0f,
                        big, -big, std::nextafter(big, 0.0f), 3.0f};
  auto kernel = kernel_named(kKernels, "thresholds");
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {1, 14}, {7, 9}, {30, 33}})
    for (int shift : {0, 5}) {
      std::vector<float> w(rows * cols);
      for (size_t i = 0; i < w.size(); ++i) w[i] = pool[(i * 3 + i / 7 + shift) % std::size(pool)];
      for (double s : {0.0, 0.1, 0.3, 0.5, 0.77, 1.0}) {
        CAPTURE(rows);
        CAPTURE(cols);
        CAPTURE(s);
        run_both(kernel, view(w, rows, cols), {s});
      }
    }
}

TEST_CASE("the exact quantile's slow paths (next 16 bits, then ties by row) agree with the fast one") {
  // With no room for candidates every selection takes the histogram levels and the
  // per-row tie search, on f32 keys and (broadcast) f64 keys alike.
  codegen::testing::CandidateCapOverride cap(0);
  auto prune = kernel_named(kStd(), "magnitude_prune");
  std::vector<float> ties(3000);
  for (size_t i = 0; i < ties.size(); ++i) ties[i] = static_cast<float>(static_cast<int>(i % 5) - 2) * 0.5f;
  auto gauss = random_weights(3000, 7, false);
  for (double s : {0.0, 0.33, 0.5, 0.999, 1.0}) {
    run_both(prune, view(ties, 30, 100), {s});
    run_both(prune, view(gauss, 60, 50), {s});
  }
  sweep("ranks", {0.4});
  sweep("broadcast", {0.25});
  sweep("rowscaled", {0.4});  // a row maximum from the quantile's pass, read after it re-reads rows
}

TEST_CASE("the exact quantile's sampled bracket: hits, misses and overflows all give the exact answer") {
  // 320 rows: enough to sample 64 of them; a cap of 2500 candidates for 6400 units.
  codegen::testing::CandidateCapOverride cap(2500);
  auto prune = kernel_named(kStd(), "magnitude_prune");
  auto gauss = random_weights(320 * 20, 11, false);
  auto ties = random_weights(320 * 20, 12, true);
  // The sampled rows (every fifth) small, the others large: the bracket of a kernel whose
  // sample processes whole rows (ranks) misses.
  auto skewed = random_weights(320 * 20, 13, false);
  for (int64_t r = 0; r < 320; ++r)
    for (int64_t c = 0; c < 20; ++c) skewed[r * 20 + c] *= r % 5 == 0 ? 0.001f : 100.0f;
  std::vector<float> zeros(320 * 20, 0.0f);  // every unit in the bracket: too many candidates
  // Signed units (a quantile of w, not of |w|): brackets with negative ends, and signed
  // zeros, which rank as equals.
  std::vector<float> signed_zeros(320 * 20);
  for (size_t i = 0; i < signed_zeros.size(); ++i) {
    const float pool[] = {-0.0f, 0.0f, -1.0f, 1.0f, 0.5f, -0.0f};
    signed_zeros[i] = pool[(i * 7 + i / 13) % 6];
  }
  auto ranks = kernel_named(kKernels, "ranks");
  for (int width : {16, 8, 4, 1}) {  // every scan this CPU has: AVX-512, AVX2, 4-wide vectors, scalar
    codegen::testing::ScanWidthOverride scan(width);
    CAPTURE(width);
    for (double s : {0.0, 0.2, 0.5, 0.9, 1.0})
      for (const auto* w : {&gauss, &ties, &skewed, &zeros, &signed_zeros}) {
        run_both(prune, view(*w, 320, 20), {s});
        run_both(ranks, view(*w, 320, 20), {s});
      }
  }
  auto fused = kernel_named(std::string(kStd()) + R"(model base = load("m.safetensors", arch = mlp(act = relu));
rule p = magnitude_prune(50%) on base.match("fc*.weight");
rule q = quantize(8) on base.match("fc*.weight");
pipeline small = base |> p |> q;
)", "small:p|>q");
  run_both(fused, view(gauss, 320, 20), {});
  run_both(fused, view(skewed, 320, 20), {});
  // Non-finite weights are found by every scan, the native pre-pass of AVX-512 included.
  for (int width : {16, 1}) {
    codegen::testing::ScanWidthOverride scan(width);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
      auto w = gauss;
      w[4321] = bad;
      run_both(prune, view(w, 320, 20, "fc1.weight"), {0.5});
      run_both(fused, view(w, 320, 20, "fc1.weight"), {});
    }
  }
}

TEST_CASE("tensors above 65,536 units sample their bracket, under the default candidate cap too") {
  // 300 x 300: every unit a candidate would cost a select over all 90,000 of them.
  auto prune = kernel_named(kStd(), "magnitude_prune");
  auto gauss = random_weights(300 * 300, 21, false);
  auto ties = random_weights(300 * 300, 22, true);
  for (double s : {0.1, 0.5, 0.97}) {
    run_both(prune, view(gauss, 300, 300, "fc1.weight"), {s});
    run_both(prune, view(ties, 300, 300, "fc1.weight"), {s});
  }
}

TEST_CASE("the sample of |w| spans the tensor: rows of different scales do not make its bracket miss") {
  // Every eighth row 1000x smaller: 64 evenly spaced whole rows would all be small ones.
  auto prune = kernel_named(kStd(), "magnitude_prune");
  auto w = random_weights(512 * 256, 31, false);
  for (int64_t r = 0; r < 512; r += 8)
    for (int64_t c = 0; c < 256; ++c) w[r * 256 + c] *= 0.001f;
  int64_t fallbacks = codegen::testing::bracket_fallbacks();
  for (double s : {0.3, 0.5, 0.8}) run_both(prune, view(w, 512, 256, "fc1.weight"), {s});
  CHECK(codegen::testing::bracket_fallbacks() == fallbacks);
}

TEST_CASE("a pruned row's max from the pre-pass: rows whose max ties the threshold, before, at and after it") {
  // |w| in {0, 1, 2}; for 11 <= k <= 20 of the 24 units the threshold's value is 1, and
  // its unit (kpos) moves from row 0 to row 5 past rows whose maximum is 1.
  const std::vector<float> w{1, 1, 0, 0, 2, -1, 0, 1, 1, 0, -1, 1, 0, 0, 0, 0, 1, -1, 0, 0, 2, -2, 1, 0};
  auto fused = kernel_named(std::string(kStd()) + R"(model base = load("m.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
rule p = magnitude_prune(sparsity) on base.match("fc*.weight");
rule q = quantize(8) on base.match("fc*.weight");
pipeline small = base |> p |> q;
)", "small:p|>q");
  REQUIRE(fused.schedule.kept_row_max.size() == 1);
  for (int k = 0; k <= 24; ++k) {
    CAPTURE(k);
    run_both(fused, view(w, 6, 4, "fc1.weight"), {k / 24.0});
  }
  // The same pattern over 320 rows, so that the bracket is sampled (and the pre-pass runs
  // natively where the CPU has AVX-512), then through the fallback, which re-reads the rows
  // that hold the row maxima.
  std::vector<float> tall;
  for (int r = 0; r < 320; ++r) tall.insert(tall.end(), w.begin() + (r % 6) * 4, w.begin() + (r % 6) * 4 + 4);
  {
    codegen::testing::CandidateCapOverride sampled(700);
    for (double s : {0.3, 0.45, 0.5, 0.6, 0.75}) run_both(fused, view(tall, 320, 4, "fc1.weight"), {s});
  }
  codegen::testing::CandidateCapOverride cap(0);
  for (int k : {11, 15, 20}) run_both(fused, view(w, 6, 4, "fc1.weight"), {k / 24.0});
}

TEST_CASE("codes streamed out from every alignment of a row: the interpreter's codes") {
  // The vectorised loops store codes with non-temporal stores that need 16-byte aligned
  // addresses (jit.cpp, stream_code_stores): with 301 columns the rows start at every
  // offset modulo 16, and a misaligned store would fault. Also asymmetric (unsigned) codes,
  // groups that cut the rows, and prune fused into the quantiser.
  auto quant = kernel_named(kStd(), "quantize");
  auto asym = kernel_named(kStd(), "quantize_asym");
  auto w = random_weights(17 * 301, 61, false);
  for (int bits : {8, 4, 2}) {
    CAPTURE(bits);
    run_both(quant, view(w, 17, 301, "fc1.weight"), {static_cast<double>(bits), 0});
    run_both(quant, view(w, 17, 301, "fc1.weight"), {static_cast<double>(bits), 64});
    run_both(asym, view(w, 17, 301, "fc1.weight"), {static_cast<double>(bits), 0});
  }
  auto fused = kernel_named(std::string(kStd()) + R"(model base = load("m.safetensors", arch = mlp(act = relu));
rule p = magnitude_prune(50%) on base.match("fc*.weight");
rule q = quantize(8) on base.match("fc*.weight");
pipeline small = base |> p |> q;
)", "small:p|>q");
  auto tall = random_weights(301 * 301, 62, false);  // enough rows for the one-read pass
  run_both(fused, view(tall, 301, 301, "fc1.weight"), {});
}

TEST_CASE("bad input: the JIT fails with the interpreter's error, never crashes") {
  auto quant = kernel_named(kStd(), "quantize");
  auto prune = kernel_named(kStd(), "magnitude_prune");
  auto fused = kernel_named(std::string(kStd()) + R"(model base = load("m.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
rule p = magnitude_prune(sparsity) on base.match("fc*.weight");
rule q = quantize(8, group = 4) on base.match("fc*.weight");
pipeline small = base |> p |> q;
)", "small:p|>q");
  auto w = random_weights(6 * 8, 3, true);
  SUBCASE("NaN and Inf weights, wherever they are") {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()})
      for (int64_t at : {0, 7, 9, 47}) {
        auto v = w;
        v[at] = bad;
        v[40] = bad;
        CAPTURE(at);
        run_both(quant, view(v, 6, 8, "fc1.weight"), {8, 0});
        run_both(quant, view(v, 6, 8, "fc1.weight"), {8, 4});
        run_both(prune, view(v, 6, 8, "fc1.weight"), {0.5});
        run_both(fused, view(v, 6, 8, "fc1.weight"), {0.5});
        run_both(quant, view(v, 6, 8, "fc1.weight"), {8, 9});  // the bad weight is named before the group size
      }
  }
  SUBCASE("bad group sizes, bit widths and parameters") {
    for (double group : {9.0, 2.5, -1.0, 1e300, std::numeric_limits<double>::quiet_NaN()})
      run_both(quant, view(w, 6, 8, "fc1.weight"), {4, group});
    for (double bits : {1.0, 9.0, 4.5, -3.0}) run_both(quant, view(w, 6, 8, "fc1.weight"), {bits, 0});
    run_both(quant, view(w, 6, 8, "fc1.weight"), {8});
    run_both(prune, view(w, 6, 8, "fc1.weight"), {std::numeric_limits<double>::infinity()});
    auto nm = kernel_named(kStd(), "nm_prune");
    run_both(nm, view(w, 6, 8, "fc1.weight"), {2, 16});
    run_both(nm, view(w, 6, 8, "fc1.weight"), {2, 0});
  }
  SUBCASE("failures inside the kernel: domain errors, non-finite outputs, codes, scales, measures") {
    std::vector<float> one_negative{1.0f, 2.0f, -3.5f, 4.0f, 0.5f, 0.25f};
    for (const char* name : {"lg", "rt"}) run_both(kernel_named(kKernels, name), view(one_negative, 2, 3), {});
    std::vector<float> big{0.1f, 0.2f, 0.3f, 9.0f, 0.1f, 0.2f};
    for (const char* name : {"blowup", "badcode", "badscale", "badmeasure"})
      run_both(kernel_named(kKernels, name), view(big, 2, 3), {});
    // Several failures: both engines fail, with the same kind of message.
    std::vector<float> negatives{-1.0f, -2.0f, -3.0f, -4.0f};
    auto a = interp::run(kernel_named(kKernels, "lg").kernel, view(negatives, 2, 2), {});
    auto b = test_jit().run(kernel_named(kKernels, "lg"), view(negatives, 2, 2), {});
    REQUIRE_FALSE(a.ok());
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().message.find("log of a negative number") != std::string::npos);
  }
  SUBCASE("a row longer than the generated code's 32-bit columns: an error before any weight is read") {
    kir::TensorView huge{"fc1.weight", w.data(), 1, int64_t{1} << 31};
    auto result = test_jit().run(prune, huge, {0.5});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("too long for the JIT") != std::string::npos);
  }
}

}  // namespace
}  // namespace kmr::test
