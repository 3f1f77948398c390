// Radix selection by (key, index): narrow the key a byte at a time, then find the tie.
#include "compiler/codegen/rank_select.h"

#include <algorithm>

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
int64_t select_radix(const T* v, int64_t n, int64_t k, std::vector<Key>& keys, std::vector<Key>& cand,
                     std::vector<int64_t>& hist) {
  constexpr int kBits = sizeof(Key) * 8;
  // Wide digits halve the passes over large inputs; their histogram (512 KB) would cost
  // more than the passes it saves on small ones (a row's or a group's quantile).
  const int digit = n >= (int64_t{1} << 16) ? 16 : 8;
  const Key digit_mask = static_cast<Key>((Key{1} << digit) - 1);
  keys.resize(n);
  Key lowest = ~Key{0}, highest = 0;
  for (int64_t i = 0; i < n; ++i) {
    Key key = rank_key(v[i]);
    keys[i] = key;
    lowest = std::min(lowest, key);
    highest = std::max(highest, key);
  }
  // 1. The key of rank k, a digit at a time from the first digit where keys differ (the
  //    digits above it are the common prefix): `below` counts the units with smaller keys.
  int shift = kBits - digit;
  while (shift > 0 && ((lowest ^ highest) >> shift) == 0) shift -= digit;
  Key prefix = shift + digit >= kBits ? 0 : static_cast<Key>(lowest & ~((Key{1} << (shift + digit)) - 1));
  int64_t below = 0;
  bool first = true;
  for (; lowest != highest && shift >= 0; shift -= digit, first = false) {
    hist.assign(size_t{1} << digit, 0);
    const std::vector<Key>& from = first ? keys : cand;
    for (Key key : from) ++hist[(key >> shift) & digit_mask];
    size_t bucket = 0;
    while (below + hist[bucket] <= k) below += hist[bucket++];
    prefix |= static_cast<Key>(static_cast<Key>(bucket) << shift);
    auto in_bucket = [&](Key key) { return ((key >> shift) & digit_mask) == static_cast<Key>(bucket); };
    if (first) {
      cand.clear();
      cand.reserve(static_cast<size_t>(hist[bucket]));
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
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys32, scratch.candidates32, scratch.histogram);
}

int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys64, scratch.candidates64, scratch.histogram);
}

}  // namespace kmr::codegen
