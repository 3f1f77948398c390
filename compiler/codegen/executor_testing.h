// Test hooks of the executor: settings that make small tests reach the paths large
// tensors take.
#pragma once

#include <cstdint>

namespace kmr::codegen::testing {

/// While alive, the exact quantile over a whole tensor collects at most `cap` candidate
/// units before narrowing by further histogram levels (default 2^20), so a test with a
/// few thousand elements runs the paths of tensors with millions of ties.
class CandidateCapOverride {
 public:
  explicit CandidateCapOverride(int64_t cap);
  ~CandidateCapOverride();
  CandidateCapOverride(const CandidateCapOverride&) = delete;
  CandidateCapOverride& operator=(const CandidateCapOverride&) = delete;

 private:
  int64_t saved_;
};

/// While alive, the exact quantile's bracket scan uses at most `width` units per step (16:
/// AVX-512, 8: AVX2, 4: portable vectors, 1: scalar), so every variant the CPU has is tested.
class ScanWidthOverride {
 public:
  explicit ScanWidthOverride(int width);
  ~ScanWidthOverride();
  ScanWidthOverride(const ScanWidthOverride&) = delete;
  ScanWidthOverride& operator=(const ScanWidthOverride&) = delete;

 private:
  int saved_;
};

}  // namespace kmr::codegen::testing
