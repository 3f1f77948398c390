// The reference interpreter against plain C++ references of the stdlib rules, and its
// defined behaviour on edge cases and bad input.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <doctest/doctest.h>

#include "compiler/interp/interpreter.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kStd = "import \"std/prune\";\nimport \"std/quant\";\n";

// Indices of the round(s*n) smallest |w| (ties by index): the elements pruning must zero.
std::vector<bool> pruned_reference(const float* w, int64_t n, double s) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    float x = std::fabs(w[a]), y = std::fabs(w[b]);
    return x != y ? x < y : a < b;
  });
  int64_t k = static_cast<int64_t>(std::nearbyint(s * static_cast<double>(n)));
  std::vector<bool> out(n, false);
  for (int64_t i = 0; i < k; ++i) out[order[i]] = true;
  return out;
}

kir::KernelOutput run_ok(const passes::PreparedKernel& kernel, const kir::TensorView& in, const kir::ParamValues& params) {
  auto out = interp::run(kernel.kernel, in, params);
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message));
  return *out;
}

TEST_CASE("magnitude_prune zeroes exactly round(s*n) weights, ties broken by position") {
  auto kernel = kernel_named(kStd, "magnitude_prune");
  for (bool ties : {false, true})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {1, 37}, {7, 13}, {16, 64}})
      for (double s : {0.0, 0.25, 0.5, 0.9, 1.0}) {
        auto w = random_weights(rows * cols, rows * 1000 + cols, ties);
        auto out = run_ok(kernel, view(w, rows, cols), {s});
        auto expected = pruned_reference(w.data(), rows * cols, s);
        for (int64_t i = 0; i < rows * cols; ++i) CHECK(out.values[i] == (expected[i] ? 0.0f : w[i]));
      }
}

TEST_CASE("magnitude_prune_rows prunes each row exactly") {
  auto kernel = kernel_named(kStd, "magnitude_prune_rows");
  auto w = random_weights(9 * 21, 3, true);
  auto out = run_ok(kernel, view(w, 9, 21), {0.3});
  for (int64_t r = 0; r < 9; ++r) {
    auto expected = pruned_reference(w.data() + r * 21, 21, 0.3);
    for (int64_t c = 0; c < 21; ++c) CHECK(out.values[r * 21 + c] == (expected[c] ? 0.0f : w[r * 21 + c]));
  }
}

TEST_CASE("nm_prune keeps the 2 largest of every 4, and round(r/2) of a partial group") {
  auto kernel = kernel_named(kStd, "nm_prune");
  auto w = random_weights(5 * 15, 11, true);
  auto out = run_ok(kernel, view(w, 5, 15), {2, 4});
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c0 = 0; c0 < 15; c0 += 4) {
      int64_t len = std::min<int64_t>(4, 15 - c0);
      auto expected = pruned_reference(w.data() + r * 15 + c0, len, 0.5);
      int64_t zeroed = 0;
      for (int64_t c = 0; c < len; ++c) {
        CHECK(out.values[r * 15 + c0 + c] == (expected[c] ? 0.0f : w[r * 15 + c0 + c]));
        zeroed += expected[c];
      }
      CHECK(zeroed == (len == 4 ? 2 : static_cast<int64_t>(std::nearbyint(len * 0.5))));
    }
}

TEST_CASE("quantize: codes match a plain C++ per-row quantiser, error at most scale/2") {
  auto kernel = kernel_named(kStd, "quantize");
  for (int bits : {8, 4, 2}) {
    int64_t rows = 6, cols = 33;
    auto w = random_weights(rows * cols, bits, false);
    std::fill(w.begin() + cols, w.begin() + 2 * cols, 0.0f);  // an all-zero row
    auto out = run_ok(kernel, view(w, rows, cols), {double(bits), 0});
    REQUIRE(out.grid == kir::ScaleGrid::Row);
    REQUIRE(out.scales.size() == static_cast<size_t>(rows));
    double qmax = std::pow(2.0, bits - 1) - 1;
    for (int64_t r = 0; r < rows; ++r) {
      double amax = 0;
      for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, double(std::fabs(w[r * cols + c])));
      auto scale = static_cast<float>(amax / qmax);
      CHECK(out.scales[r] == scale);
      for (int64_t c = 0; c < cols; ++c) {
        float x = w[r * cols + c];
        float q = scale == 0 ? 0.0f : std::nearbyint(x / scale);
        q = std::min(std::max(q, float(-qmax)), float(qmax));
        auto code = static_cast<int8_t>(out.codes[r * cols + c]);
        CHECK(code == static_cast<int>(q));
        CHECK(std::fabs(code * scale - x) <= scale / 2 * (1 + 1e-6) + 1e-30);
      }
    }
    CHECK(out.measures.size() == 1);
    CHECK(out.measures[0].second >= 0);
  }
}

TEST_CASE("quantize per group of 64 with a partial last group; asymmetric codes in range") {
  auto sym = kernel_named(kStd, "quantize");
  auto w = random_weights(3 * 150, 5, false);
  auto out = run_ok(sym, view(w, 3, 150), {4, 64});
  CHECK(out.grid == kir::ScaleGrid::Group);
  CHECK(out.group_size == 64);
  CHECK(out.scales.size() == 9);
  auto asym = kernel_named(kStd, "quantize_asym");
  auto a = run_ok(asym, view(w, 3, 150), {4, 32});
  CHECK(a.has_zero);
  CHECK(a.scales.size() == 15);
  for (auto code : a.codes) CHECK(code <= 15);
  for (int64_t i = 0; i < 450; ++i) {
    int64_t unit = (i / 150) * 5 + (i % 150) / 32;
    float deq = (float(a.codes[i]) - a.zeros[unit]) * a.scales[unit];
    CHECK(std::fabs(deq - w[i]) <= a.scales[unit] * 0.5f * 1.0001f + 1e-6f);
  }
}

TEST_CASE("asymmetric quantisation keeps zero in range: all-positive and all-negative groups") {
  // Before the fix a group whose weights were all positive got a negative zero point
  // (round(-lo / scale) with lo > 0), which no uint code range can store.
  auto asym = kernel_named(kStd, "quantize_asym");
  std::vector<float> w(2 * 8);
  for (int i = 0; i < 8; ++i) w[i] = 1.0f + 0.125f * float(i);        // row 0: 1 .. 1.875
  for (int i = 0; i < 8; ++i) w[8 + i] = -2.0f + 0.25f * float(i);    // row 1: -2 .. -0.25
  auto a = run_ok(asym, view(w, 2, 8), {4, 0});
  REQUIRE(a.zeros.size() == 2);
  for (float zero : a.zeros) {
    CHECK(zero >= 0.0f);
    CHECK(zero <= 15.0f);
  }
  for (int64_t i = 0; i < 16; ++i) {
    float deq = (float(a.codes[i]) - a.zeros[i / 8]) * a.scales[i / 8];
    CHECK(std::fabs(deq - w[i]) <= a.scales[i / 8] * 0.5f * 1.0001f + 1e-6f);
  }
}

TEST_CASE("empty tensors and 1 x 1 tensors are defined") {
  auto quant = kernel_named(kStd, "quantize");
  std::vector<float> none;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{0, 0}, {0, 8}, {4, 0}}) {
    auto out = run_ok(quant, kir::TensorView{"e", nullptr, rows, cols}, {8, 0});
    CHECK(out.codes.empty());
    CHECK(out.scales.empty());  // no elements, so no groups
    CHECK(out.measures[0].second == 0);
  }
  std::vector<float> one{-3.0f};
  auto out = run_ok(quant, view(one, 1, 1), {8, 0});
  CHECK(static_cast<int8_t>(out.codes[0]) == -127);
  auto prune = kernel_named(kStd, "magnitude_prune");
  CHECK(run_ok(prune, view(one, 1, 1), {0.5}).values[0] == -3.0f);  // round(0.5 * 1) = 0, half to even
  CHECK(run_ok(prune, view(one, 1, 1), {1.0}).values[0] == 0.0f);
}

TEST_CASE("bad input is an error naming the kernel and the tensor") {
  auto quant = kernel_named(kStd, "quantize");
  std::vector<float> w{1.0f, NAN, 2.0f, 3.0f};
  auto out = interp::run(quant.kernel, view(w, 2, 2, "fc1.weight"), {8, 0});
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().message == "kernel 'quantize' on tensor 'fc1.weight': weight [0, 1] is nan");
  w[1] = 1.0f;
  auto big = interp::run(quant.kernel, view(w, 2, 2, "fc1.weight"), {8, 3});
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message.find("group size 3 is larger than the row") != std::string::npos);
  auto bits = interp::run(quant.kernel, view(w, 2, 2, "fc1.weight"), {12, 0});
  REQUIRE_FALSE(bits.ok());
  CHECK(bits.error().message.find("bits = 12") != std::string::npos);
  auto log_kernel = kernel_named("kernel lg(w: tensor) -> tensor {\n  yield log(w);\n}\n", "lg");
  std::vector<float> neg{1.0f, -1.0f};
  auto lg = interp::run(log_kernel.kernel, view(neg, 1, 2, "b"), {});
  REQUIRE_FALSE(lg.ok());
  CHECK(lg.error().message == "kernel 'lg' on tensor 'b': log of a negative number (-1)");
}

}  // namespace
}  // namespace kmr::test
