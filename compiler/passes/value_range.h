// What can be known before a run about the values a kernel computes: for every node, an
// interval, whether it may be NaN and whether it is a whole number. Code generation uses
// it to drop run-time checks that can never fire.
#pragma once

#include <unordered_map>

#include "compiler/kir/kir.h"

namespace kmr::passes {

/// The values a node can take in a run that succeeds (the weights and parameters are
/// finite, `bits` is a whole number in 2..8: runs where they are not fail). `whole`: every
/// finite value is a whole number (an infinity or NaN may still occur: see lo, hi, nan).
/// Element values are f32, so their bounds mean something only within the f32 range.
struct ValueRange {
  double lo, hi;  // lo <= every non-NaN value <= hi; infinite when unbounded
  bool nan;
  bool whole;
};

/// The ranges of every node of `kernel`, by node.
std::unordered_map<const kir::Node*, ValueRange> value_ranges(const kir::Kernel& kernel);

/// Whether a quantized kernel's q is a finite whole number in every run that succeeds, so
/// that its codes need no rounding and no non-finite check: q is clamp-like,
/// `min(max(x, lo), hi)` or `max(min(x, hi), lo)`, where x is whole when finite (rounded,
/// or sums and products of rounded values) and the bounds are finite whole numbers. The
/// bounds come second: a NaN x then yields the inner bound (kir::sem::min/max).
bool q_is_finite_whole(const kir::Kernel& kernel);

/// Whether, besides, q always lies in the code range of the run's bit width (with a zero
/// point [0, 2^bits - 1], else [-2^(bits-1), 2^(bits-1) - 1]), so that codes need no
/// saturation: the clamp's bounds depend on nothing but `bits` and constants, and are
/// evaluated for every valid width 2..8 (the stdlib's qmax = 2^(bits-1) - 1 is exactly
/// the top code).
bool q_within_codes(const kir::Kernel& kernel);

}  // namespace kmr::passes
