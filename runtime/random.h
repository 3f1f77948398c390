// A small seeded PRNG whose streams are identical on every platform and standard library.
#pragma once

#include <cstdint>
#include <vector>

namespace kmr::runtime {

/// xoshiro256** seeded through splitmix64. Used instead of <random>, whose distributions
/// differ between standard libraries, so that seeded training is reproducible anywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  /// The next 64 random bits.
  std::uint64_t next();
  /// Uniform in [0, 1), with 24 random bits (every value exactly representable as float).
  float uniform01();
  /// Uniform in [0, n), unbiased. Precondition: n > 0.
  std::uint64_t below(std::uint64_t n);
  /// Fisher–Yates shuffle of `items`.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  std::uint64_t s_[4];
};

}  // namespace kmr::runtime
