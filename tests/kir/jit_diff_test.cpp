// Differential tests: every stdlib kernel and the spec's kernels run through the JIT and
// the interpreter on random shapes and weights, and must agree (jit_helpers.h says how).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kStd = "import \"std/prune\";\nimport \"std/quant\";\n";

struct Shape {
  int64_t rows, cols;
};

// 1x1, a row, a column, odd sizes whose groups of 32/64/128 leave remainders, a few
// thousand elements, and empty tensors.
const Shape kShapes[] = {{1, 1}, {1, 37}, {29, 1}, {7, 13}, {5, 150}, {3, 200}, {16, 300}, {0, 0}, {0, 8}, {4, 0}};

enum class Weights { Gaussian, TiesAndZeroRow, AllZero, Outliers };
const Weights kWeights[] = {Weights::Gaussian, Weights::TiesAndZeroRow, Weights::AllZero, Weights::Outliers};

std::vector<float> weights(const Shape& shape, Weights kind, uint64_t seed) {
  int64_t n = shape.rows * shape.cols;
  auto w = random_weights(n, seed, kind == Weights::TiesAndZeroRow);
  switch (kind) {
    case Weights::Gaussian: break;
    case Weights::TiesAndZeroRow:
      if (shape.rows > 1) std::fill(w.begin() + shape.cols, w.begin() + 2 * shape.cols, 0.0f);
      break;
    case Weights::AllZero: std::fill(w.begin(), w.end(), 0.0f); break;
    case Weights::Outliers:
      // A few outlier columns, as in real weights (and the benchmark).
      for (int64_t r = 0; r < shape.rows; ++r)
        for (int64_t c = 3; c < shape.cols; c += 17) w[r * shape.cols + c] *= 40.0f;
      break;
  }
  return w;
}

// Runs `kernel` with `params` over every shape and weight kind.
void sweep_shapes(const passes::PreparedKernel& kernel, const kir::ParamValues& params) {
  uint64_t seed = 1;
  for (const auto& shape : kShapes)
    for (auto kind : kWeights) {
      auto w = weights(shape, kind, seed++);
      CAPTURE(kernel.kernel.name);
      CAPTURE(shape.rows);
      CAPTURE(shape.cols);
      CAPTURE(static_cast<int>(kind));
      std::string args;
      for (double p : params) args += std::to_string(p) + " ";
      CAPTURE(args);
      run_both(kernel, view(w, shape.rows, shape.cols), params);
    }
}

std::string read_spec(const std::string& name) {
  std::ifstream file(std::string(KMR_SHARED_DIR) + "/spec/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST_CASE("JIT = interpreter: magnitude pruning per tensor and per row, exact quantiles") {
  auto tensor = kernel_named(kStd, "magnitude_prune");
  auto rows = kernel_named(kStd, "magnitude_prune_rows");
  for (double s : {0.0, 0.3, 0.5, 0.9, 1.0}) {
    sweep_shapes(tensor, {s});
    sweep_shapes(rows, {s});
  }
}

TEST_CASE("JIT = interpreter: N:M and structured row pruning") {
  auto nm = kernel_named(kStd, "nm_prune");
  for (auto [n, m] : {std::pair<double, double>{2, 4}, {1, 4}, {2, 8}, {3, 5}}) sweep_shapes(nm, {n, m});
  auto rows = kernel_named(kStd, "row_prune");
  for (double s : {0.0, 0.25, 0.5, 1.0}) sweep_shapes(rows, {s});
}

TEST_CASE("JIT = interpreter: symmetric, asymmetric and fake quantisation, bits 2..8, groups 0/32/64/128") {
  for (const char* name : {"quantize", "quantize_asym", "fake_quantize"}) {
    auto kernel = kernel_named(kStd, name);
    for (int bits = 2; bits <= 8; ++bits)
      for (int group : {0, 32, 64, 128}) sweep_shapes(kernel, {double(bits), double(group)});
  }
}

TEST_CASE("JIT = interpreter: the spec's kernels and its fused pipelines") {
  std::string kernels = read_spec("kernels.kmr"), quickstart = read_spec("quickstart.kmr");
  REQUIRE_MESSAGE(!kernels.empty(), "../shared/spec/kernels.kmr is missing");
  REQUIRE_MESSAGE(!quickstart.empty(), "../shared/spec/quickstart.kmr is missing");
  sweep_shapes(kernel_named(kernels, "prune_2_4"), {});
  auto asym = kernel_named(kernels, "quant_asym");
  for (int bits = 2; bits <= 8; ++bits)
    for (int group : {0, 32, 64, 128}) sweep_shapes(asym, {double(bits), double(group)});
  auto fused = kernel_named(kernels, "out:sparse|>quant");
  CHECK(fused.schedule.passes.size() == 1);
  for (int bits : {4, 8}) sweep_shapes(fused, {double(bits)});
  auto small = kernel_named(quickstart, "small:prune|>quant");
  CHECK(small.schedule.passes.size() == 2);
  for (double s : {0.0, 0.5, 0.85})
    for (int bits : {2, 4, 8}) sweep_shapes(small, {s, double(bits)});
}

TEST_CASE("the JIT prunes exactly: round(s*n) zeros, ties broken by position, on a tensor of many ties") {
  auto kernel = kernel_named(kStd, "magnitude_prune");
  // 20,000 weights from 7 values: the quantile's bucket is all ties.
  std::vector<float> w(20000);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>((i * 7919) % 7) - 3);
  for (double s : {0.1, 0.5, 0.77}) {
    auto out = test_jit().run(kernel, view(w, 100, 200), {s}, 2);
    REQUIRE(out.ok());
    int64_t zeros = 0;
    for (float v : out->values) zeros += v == 0.0f;
    int64_t originally = std::count(w.begin(), w.end(), 0.0f);
    int64_t k = static_cast<int64_t>(std::nearbyint(s * w.size()));
    CHECK(zeros == std::max(k, originally));
    run_both(kernel, view(w, 100, 200), {s});
  }
}

}  // namespace
}  // namespace kmr::test
