// Radix selection by (key, index): narrow the key a byte at a time, then find the tie.
#include "compiler/codegen/rank_select.h"

#include <algorithm>
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

template <class T, class Key>
int64_t select_radix(const T* v, int64_t n, int64_t k, std::vector<Key>& keys, std::vector<Key>& cand) {
  constexpr int kBits = sizeof(T) * 8;
  keys.resize(n);
  Key lowest = ~Key{0}, highest = 0;
  for (int64_t i = 0; i < n; ++i) {
    keys[i] = rank_key(v[i]);
    lowest = std::min(lowest, keys[i]);
    highest = std::max(highest, keys[i]);
  }
  // 1. The key of rank k, a byte at a time from the first byte where keys differ (the
  //    bytes above it are the common prefix): `below` counts the units with smaller keys.
  int shift = 0;
  while (shift + 8 < kBits && ((lowest ^ highest) >> (shift + 8)) != 0) shift += 8;
  Key prefix = shift + 8 >= kBits ? 0 : static_cast<Key>(lowest & ~((uint64_t{1} << (shift + 8)) - 1));
  int64_t below = 0;
  bool first = true;
  for (; lowest != highest && shift >= 0; shift -= 8, first = false) {
    std::array<int64_t, 256> hist{};
    const std::vector<Key>& from = first ? keys : cand;
    for (Key key : from) ++hist[(key >> shift) & 255];
    int bucket = 0;
    while (below + hist[bucket] <= k) below += hist[bucket++];
    prefix |= static_cast<Key>(static_cast<Key>(bucket) << shift);
    auto in_bucket = [&](Key key) { return ((key >> shift) & 255) == static_cast<Key>(bucket); };
    if (first) {
      cand.clear();
      for (Key key : keys)
        if (in_bucket(key)) cand.push_back(key);
    } else {
      cand.erase(std::remove_if(cand.begin(), cand.end(), [&](Key key) { return !in_bucket(key); }), cand.end());
    }
  }
  if (lowest == highest) prefix = lowest;
  // 2. Among the units with exactly that key, the (k - below)-th by index.
  int64_t want = k - below;
  for (int64_t i = 0; i < n; ++i)
    if (keys[i] == prefix && want-- == 0) return i;
  return n - 1;  // unreachable: the histograms counted these units
}

}  // namespace

int64_t select_rank(const float* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys32, scratch.candidates32);
}

int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys64, scratch.candidates64);
}

}  // namespace kmr::codegen
