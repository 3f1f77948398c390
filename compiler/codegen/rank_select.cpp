// Radix selection by (key, index): narrow the key a byte at a time, then find the tie.
#include "compiler/codegen/rank_select.h"

#include <array>

namespace kmr::codegen {
namespace {

constexpr int64_t kSmall = 24;

template <class T>
int64_t select_small(const T* v, int64_t n, int64_t k) {
  // Rank of i = units before it in (key, index) order; exactly one unit has rank k.
  for (int64_t i = 0; i < n; ++i) {
    auto key = rank_key(v[i]);
    int64_t rank = 0;
    for (int64_t j = 0; j < n; ++j) {
      auto other = rank_key(v[j]);
      rank += other < key || (other == key && j < i);
    }
    if (rank == k) return i;
  }
  return n - 1;  // unreachable for 0 <= k < n
}

template <class T>
int64_t select_radix(const T* v, int64_t n, int64_t k, SelectScratch& scratch) {
  constexpr int kBits = sizeof(T) * 8;
  auto& keys = scratch.keys;
  auto& cand = scratch.candidates;
  keys.resize(n);
  for (int64_t i = 0; i < n; ++i) keys[i] = rank_key(v[i]);
  cand.assign(keys.begin(), keys.end());
  // 1. The key of rank k, a byte at a time: `below` counts the units with smaller keys.
  uint64_t prefix = 0;
  int64_t below = 0;
  for (int shift = kBits - 8; shift >= 0; shift -= 8) {
    std::array<int64_t, 256> hist{};
    for (uint64_t key : cand) ++hist[(key >> shift) & 255];
    int bucket = 0;
    while (below + hist[bucket] <= k) below += hist[bucket++];
    prefix |= static_cast<uint64_t>(bucket) << shift;
    size_t kept = 0;
    for (uint64_t key : cand)
      if (((key >> shift) & 255) == static_cast<uint64_t>(bucket)) cand[kept++] = key;
    cand.resize(kept);
  }
  // 2. Among the units with exactly that key, the (k - below)-th by index.
  int64_t want = k - below;
  for (int64_t i = 0; i < n; ++i)
    if (keys[i] == prefix && want-- == 0) return i;
  return n - 1;  // unreachable: the histograms counted these units
}

}  // namespace

int64_t select_rank(const float* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch);
}

int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch);
}

}  // namespace kmr::codegen
