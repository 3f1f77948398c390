// Radix selection by (key, index): narrow the key a digit at a time, then find the tie.
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
  // Each level buckets the keys still in play by the `digit` bits below their highest
  // differing bit: however narrow or wide their spread, a level divides the range by 2^digit,
  // and the histogram (16 KB at most) stays in L1.
  const int digit = n >= 2048 ? 11 : 8;
  keys.resize(n);
  Key lowest = ~Key{0}, highest = 0;
  for (int64_t i = 0; i < n; ++i) {
    Key key = rank_key(v[i]);
    keys[i] = key;
    lowest = std::min(lowest, key);
    highest = std::max(highest, key);
  }
  // 1. The key of rank k; `below` counts the units with smaller keys.
  int64_t below = 0, count = n;
  const Key* from = keys.data();
  while (lowest != highest) {
    RadixDigit<Key> level(lowest, highest, digit);  // keys in play share their bits above it
    hist.assign(level.buckets, 0);
    for (int64_t i = 0; i < count; ++i) ++hist[level.of(from[i])];
    size_t bucket = 0;
    while (below + hist[bucket] <= k) below += hist[bucket++];
    // The bucket's keys (in place after the first level: the write index trails the read).
    int shift = level.shift;
    Key chosen = level.base + static_cast<Key>(bucket);
    if (from == keys.data()) cand.resize(static_cast<size_t>(hist[bucket]));
    int64_t kept = 0;
    lowest = ~Key{0}, highest = 0;
    for (int64_t i = 0; i < count; ++i) {
      Key key = from[i];
      if ((key >> shift) != chosen) continue;
      cand[kept++] = key;
      lowest = std::min(lowest, key);
      highest = std::max(highest, key);
    }
    from = cand.data();
    count = kept;
  }
  // 2. Among the units with exactly that key, the (k - below)-th by index.
  int64_t want = k - below;
  for (int64_t i = 0; i < n; ++i)
    if (keys[i] == lowest && want-- == 0) return i;
  return n - 1;  // unreachable: the histograms counted these units
}

}  // namespace

int64_t select_rank(const float* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys32, scratch.candidates32, scratch.histogram);
}

int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch) {
  return n <= kSmall ? select_small(v, n, k) : select_radix(v, n, k, scratch.keys64, scratch.candidates64, scratch.histogram);
}

void keys_at_ranks(const float* v, int64_t n, const std::vector<int64_t>& ranks, std::vector<uint32_t>& keys,
                   SelectScratch& scratch) {
  keys.assign(ranks.size(), 0);
  if (n == 0) return;
  std::vector<uint32_t>& all = scratch.keys32;
  all.resize(static_cast<size_t>(n));
  uint32_t lowest = ~uint32_t{0}, highest = 0;
  for (int64_t i = 0; i < n; ++i) {
    all[i] = rank_key(v[i]);
    lowest = std::min(lowest, all[i]);
    highest = std::max(highest, all[i]);
  }
  RadixDigit<uint32_t> level(lowest, highest, 11);
  std::vector<int64_t>& hist = scratch.histogram;
  hist.assign(level.buckets, 0);
  for (int64_t i = 0; i < n; ++i) ++hist[level.of(all[i])];
  std::vector<uint32_t>& members = scratch.candidates32;
  size_t bucket = 0, members_of = level.buckets;  // the bucket `members` holds (none yet)
  int64_t below = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    while (below + hist[bucket] <= ranks[r]) below += hist[bucket++];
    if (members_of != bucket) {
      members.clear();
      for (int64_t i = 0; i < n; ++i)
        if (level.of(all[i]) == bucket) members.push_back(all[i]);
      members_of = bucket;
    }
    // A bucket holds few keys but for heavy ties, where nth_element is still linear on average.
    auto at = members.begin() + (ranks[r] - below);
    std::nth_element(members.begin(), at, members.end());
    keys[r] = *at;
  }
}

}  // namespace kmr::codegen
