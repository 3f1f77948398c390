// Exact rank selection without sorting: order-preserving integer keys of floats and a radix
// select by (value, position), the quantile semantics of docs/kernels.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace kmr::codegen {

/// An unsigned key whose order is the quantile order of docs/kernels.md: numbers in
/// increasing order with -0 equal to +0, then every NaN (equal to each other), so that
/// ties between equal keys are broken by position exactly as the interpreter breaks them.
inline uint32_t rank_key(float x) {
  // Branch-free (selects, not jumps), so that loops computing keys vectorize.
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  uint32_t magnitude = bits & 0x7fffffffu;
  uint32_t key = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  key = magnitude == 0 ? 0x80000000u : key;
  return magnitude > 0x7f800000u ? 0xffc00000u : key;  // above +inf (0xff800000)
}
/// The float with key `key` (+0 for the key of both zeros, a quiet NaN for NaNs').
inline float from_rank_key(uint32_t key) {
  uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}
inline uint64_t rank_key(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  uint64_t magnitude = bits & 0x7fffffffffffffffull;
  uint64_t key = (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
  key = magnitude == 0 ? 0x8000000000000000ull : key;
  return magnitude > 0x7ff0000000000000ull ? 0xfff8000000000000ull : key;
}

/// The signed key the generated code uses for max and min (order-preserving for every
/// number, -0 below +0; the transform is its own inverse).
inline int32_t signed_key(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits ^ ((bits >> 31) & 0x7fffffff);
}
inline float from_signed_key(int32_t key) {
  int32_t bits = key ^ ((key >> 31) & 0x7fffffff);
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}
inline int64_t signed_key(double x) {
  int64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits ^ ((bits >> 63) & 0x7fffffffffffffffll);
}
inline double from_signed_key(int64_t key) {
  int64_t bits = key ^ ((key >> 63) & 0x7fffffffffffffffll);
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

/// One level of a radix select over keys in [lowest, highest]: the `bits` bits under their
/// common prefix (no bits when they are equal), numbered from 0 as buckets.
template <class Key>
struct RadixDigit {
  int shift = 0;
  Key base = 0;
  size_t buckets = 1;
  RadixDigit(Key lowest, Key highest, int bits) {
    int spread = lowest == highest ? 0 : 64 - __builtin_clzll(static_cast<uint64_t>(lowest ^ highest));
    shift = spread > bits ? spread - bits : 0;
    base = lowest >> shift;
    buckets = size_t{1} << (spread - shift);
  }
  size_t of(Key key) const { return static_cast<size_t>((key >> shift) - base); }
};

/// Reusable buffers of select_rank (one per worker, so selection allocates nothing per row).
struct SelectScratch {
  std::vector<uint32_t> keys32, candidates32;  // for floats
  std::vector<uint64_t> keys64, candidates64;  // for doubles
  std::vector<int64_t> histogram;
};

/// The index of the unit at 0-based rank k (0 <= k < n) among v[0..n) ordered by
/// (rank_key, index). Small inputs by counting, larger ones by a radix select (8 or 11 bits
/// at a time, from the keys' highest differing bit) followed by one scan in index order for
/// the tie; O(n), never a sort.
int64_t select_rank(const float* v, int64_t n, int64_t k, SelectScratch& scratch);
int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch);

/// The keys at ranks `ranks` (ascending, each in [0, n)) among v[0..n) ordered by rank_key,
/// into `keys`: for callers that want the values at several ranks, not the units holding
/// them. One radix level (11 bits) sorts every unit into buckets for all the ranks at
/// once; each rank is then found among its bucket's keys alone.
void keys_at_ranks(const float* v, int64_t n, const std::vector<int64_t>& ranks, std::vector<uint32_t>& keys,
                   SelectScratch& scratch);

}  // namespace kmr::codegen
