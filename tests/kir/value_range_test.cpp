// What the interval analysis proves about kernels, and that the JIT's shortened code
// conversion (for a q proven a finite whole number) agrees with the interpreter while the
// general conversion still rounds, saturates and rejects non-finite codes.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "compiler/passes/value_range.h"
#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const std::string kSource = pipeline_preamble() + R"(
rule p = magnitude_prune(sparsity) on base.match("fc*.weight");
rule q = quantize(8) on base.match("fc*.weight");
pipeline small = base |> p |> q;

kernel unrounded(w: tensor) -> qtensor {
  yield quantized(clamp(w * 3.3, -127, 127), 1.0, bits = 8);
}
kernel fractional_bounds(w: tensor, b: float = 5.5) -> qtensor {
  yield quantized(clamp(round(w * 3.0), -b, b), 1.0, bits = 8);
}
kernel one_sided(w: tensor) -> qtensor {
  yield quantized(min(round(w * 3.0), 7), 1.0, bits = 8);
}
kernel bound_first(w: tensor) -> qtensor {
  yield quantized(min(127, max(-127, round(w * 3.0))), 1.0, bits = 8);
}
kernel huge_bounds(w: tensor, bits: int) -> qtensor {
  let m = 2 ^ (bits * 4);
  yield quantized(clamp(round(w * 1e9), -m, m), 1.0, bits = bits);
}
kernel int_param(w: tensor, k: int = 3) -> qtensor {
  yield quantized(clamp(round(w * 10.0), -k, k), 1.0, bits = 4);
}
kernel wide_bounds(w: tensor, bits: int = 4) -> qtensor {
  yield quantized(clamp(round(w * 100.0), -127, 127), 1.0, bits = bits);
}
kernel eight_bits(w: tensor) -> qtensor {
  yield quantized(clamp(round(w * 100.0), -127, 127), 1.0, bits = 8);
}
kernel floors(w: tensor, bits: int = 4) -> qtensor {
  let top = 2 ^ bits - 1;
  yield quantized(clamp(floor(w * 4.0) + ceil(w) * 2.0 - 1.0, 0, top), 1.0, zero = 8, bits = bits);
}
)";

bool proven(const std::string& name) { return passes::q_is_finite_whole(kernel_named(kSource, name).kernel); }

TEST_CASE("the stdlib's quantisers and the fused pipeline yield codes proven finite whole numbers") {
  CHECK(proven("quantize"));
  CHECK(proven("quantize_asym"));
  CHECK(proven("small:p|>q"));
  CHECK(proven("floors"));  // floor, ceil, sums and products of whole numbers stay whole
}

TEST_CASE("codes need no saturation when the clamp's bounds fit every valid bit width") {
  auto within = [](const std::string& name) { return passes::q_within_codes(kernel_named(kSource, name).kernel); };
  CHECK(within("quantize"));       // qmax = 2^(bits-1) - 1 is the top code
  CHECK(within("quantize_asym"));  // [0, 2^bits - 1] with a zero point
  CHECK(within("small:p|>q"));
  CHECK(within("eight_bits"));
  CHECK(within("floors"));          // floor(...) clamped to [0, 2^bits - 1]
  CHECK_FALSE(within("wide_bounds"));  // 127 is no 4-bit code
  CHECK_FALSE(within("int_param"));    // not even whole
  CHECK_FALSE(within("unrounded"));
}

TEST_CASE("what the analysis cannot prove keeps the full conversion") {
  CHECK_FALSE(proven("unrounded"));          // not rounded
  CHECK_FALSE(proven("fractional_bounds"));  // a float parameter may be 5.5
  CHECK_FALSE(proven("one_sided"));          // -inf passes a min alone
  CHECK_FALSE(proven("bound_first"));        // max(-127, NaN) is NaN: the bound must come second
  CHECK_FALSE(proven("huge_bounds"));        // 2^32 is not exact in f32
  CHECK_FALSE(proven("int_param"));          // int parameters are not checked whole
  CHECK_FALSE(passes::q_is_finite_whole(kernel_named(kSource, "magnitude_prune").kernel));  // no codes
}

TEST_CASE("ranges follow the bit width's check through the stdlib's arithmetic") {
  auto kernel = kernel_named(kSource, "quantize").kernel;
  auto ranges = passes::value_ranges(kernel);
  const auto& bits = ranges.at(kernel.bits.get());
  CHECK(bits.lo == 2);
  CHECK(bits.hi == 8);
  CHECK(bits.whole);
  // q = min(max(round(w / scale), -qmax), qmax) with qmax = 2^(bits - 1) - 1 in [1, 127].
  const auto& qmax = ranges.at(kernel.q->operands[1].get());
  CHECK(qmax.lo == 1);
  CHECK(qmax.hi == 127);
  CHECK_FALSE(qmax.nan);
  CHECK(qmax.whole);
  const auto& q = ranges.at(kernel.q.get());
  CHECK(q.lo == -127);
  CHECK(q.hi == 127);
  CHECK_FALSE(q.nan);
  CHECK(q.whole);
}

TEST_CASE("JIT = interpreter on proven and unproven codes, including saturation and non-finite codes") {
  auto w = random_weights(7 * 33, 11, true);
  w[5] = 1e30f;  // w * 3.3 and w * 1e9 far outside the codes
  w[6] = -1e30f;
  for (const char* name : {"quantize", "quantize_asym"})
    for (double bits : {2.0, 3.0, 8.0}) run_both(kernel_named(kSource, name), view(w, 7, 33), {bits, 0});
  run_both(kernel_named(kSource, "small:p|>q"), view(w, 7, 33), {0.5});
  run_both(kernel_named(kSource, "unrounded"), view(w, 7, 33), {});
  run_both(kernel_named(kSource, "fractional_bounds"), view(w, 7, 33), {5.5});
  run_both(kernel_named(kSource, "one_sided"), view(w, 7, 33), {});
  run_both(kernel_named(kSource, "bound_first"), view(w, 7, 33), {});
  run_both(kernel_named(kSource, "huge_bounds"), view(w, 7, 33), {8});
  run_both(kernel_named(kSource, "int_param"), view(w, 7, 33), {2.5});
  run_both(kernel_named(kSource, "floors"), view(w, 7, 33), {4});
  for (double bits : {2.0, 4.0, 8.0}) run_both(kernel_named(kSource, "wide_bounds"), view(w, 7, 33), {bits});  // saturated
  run_both(kernel_named(kSource, "eight_bits"), view(w, 7, 33), {});
  // A NaN bound makes the codes NaN: an error in both engines, whichever path.
  run_both(kernel_named(kSource, "fractional_bounds"), view(w, 7, 33), {std::numeric_limits<double>::quiet_NaN()});
}

}  // namespace
}  // namespace kmr::test
