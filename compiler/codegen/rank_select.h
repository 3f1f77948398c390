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
  uint32_t bits;
  if (x == 0) return 0x80000000u;
  if (x != x) return 0xffc00000u;  // above +inf (0xff800000)
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}
inline uint64_t rank_key(double x) {
  uint64_t bits;
  if (x == 0) return 0x8000000000000000ull;
  if (x != x) return 0xfff8000000000000ull;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
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

/// Reusable buffers of select_rank (one per worker, so selection allocates nothing per row).
struct SelectScratch {
  std::vector<uint32_t> keys32, candidates32;  // for floats
  std::vector<uint64_t> keys64, candidates64;  // for doubles
};

/// The index of the unit at 0-based rank k (0 <= k < n) among v[0..n) ordered by
/// (rank_key, index). Small inputs by counting, larger ones by a radix select on 8 bits at
/// a time followed by one scan in index order for the tie; O(n), never a sort.
int64_t select_rank(const float* v, int64_t n, int64_t k, SelectScratch& scratch);
int64_t select_rank(const double* v, int64_t n, int64_t k, SelectScratch& scratch);

}  // namespace kmr::codegen
