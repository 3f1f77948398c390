// Test hooks of the executor: settings that make small tests reach the paths large
// tensors take or switch a strategy off, and what tests observe of its choices.
#pragma once

#include <atomic>
#include <cstdint>

namespace kmr::codegen::testing {

/// Sets an executor setting while alive, then restores it.
template <class T>
class ScopedSetting {
 public:
  ScopedSetting(std::atomic<T>& setting, T value) : setting_(setting), saved_(setting.exchange(value)) {}
  ~ScopedSetting() { setting_.store(saved_); }
  ScopedSetting(const ScopedSetting&) = delete;
  ScopedSetting& operator=(const ScopedSetting&) = delete;

 private:
  std::atomic<T>& setting_;
  T saved_;
};

std::atomic<int64_t>& candidate_cap();
std::atomic<int>& scan_width_cap();
std::atomic<int64_t>& estimate_offset();
std::atomic<bool>& speculation_enabled();

/// While alive, the exact quantile over a whole tensor collects at most `cap` candidate
/// units before narrowing by further histogram levels (default 2^20), so a test with a
/// few thousand elements runs the paths of tensors with millions of ties.
struct CandidateCapOverride : ScopedSetting<int64_t> {
  explicit CandidateCapOverride(int64_t cap) : ScopedSetting(candidate_cap(), cap) {}
};

/// While alive, the exact quantile's bracket scan uses at most `width` units per step (16:
/// AVX-512, 8: AVX2, 4: portable vectors, 1: scalar), so every variant the CPU has is tested.
struct ScanWidthOverride : ScopedSetting<int> {
  explicit ScanWidthOverride(int width) : ScopedSetting(scan_width_cap(), width) {}
};

/// While alive, kernels with Layout::speculation run their two passes in one read of the
/// tensor (true, the default) or in two (false); the bench compares the two.
struct SpeculationOverride : ScopedSetting<bool> {
  explicit SpeculationOverride(bool enabled) : ScopedSetting(speculation_enabled(), enabled) {}
};

/// While alive, the speculative pass's estimate of the quantile is the sample's unit
/// `offset` ranks away from its usual one (when that unit is still inside the bracket), so
/// that tests fix many units and rows.
struct EstimateOffset : ScopedSetting<int64_t> {
  explicit EstimateOffset(int64_t offset) : ScopedSetting(estimate_offset(), offset) {}
};

/// How many runs took the one-read path of Layout::speculation since the process started.
int64_t one_read_runs();

/// How many exact quantiles over a whole tensor fell back from their bracket (it missed
/// rank k, or held more candidates than the cap) and so read the tensor again, since the
/// process started: the tests' view of the bracket's quality.
int64_t bracket_fallbacks();

}  // namespace kmr::codegen::testing
