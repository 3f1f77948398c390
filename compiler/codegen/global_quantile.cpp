// The exact quantile over a whole tensor without sorting it, on order-preserving integer
// keys of the units' values (ties broken by position, as the interpreter breaks them).
//
// Fast path, in the pass that reads the tensor (each row's operand values land in its
// scratch row, then one vectorised scan of that row):
// 1. Before the pass, a bracket of keys [lo, hi] that holds rank k with overwhelming
//    probability: ranks k·m/n ± 4σ (+64) of a sample of m units — read from the weights
//    at spots over up to 1024 rows when the operand is w or abs(w), else from 64 evenly
//    spaced rows processed up to the sweep. (A tensor of at most 65,536 units is
//    bracketed whole: every unit a candidate, which costs 16 bytes and a select each —
//    12 ms for a 1024 x 1024 matrix.)
// 2. Per row: units below lo are counted, units inside collected with their positions.
// 3. After the pass, if `below` ≤ k < `below` + collected, a radix select among the
//    candidates (tasks are row blocks in order, so candidates are in position order)
//    gives rank k − below: exact, in one read of the tensor. Its first level (11 bits
//    under the bracket's common prefix) is counted, and kept per candidate, as the
//    candidates are collected; the bucket holding the rank is then found from the kept
//    digits by both threads, and only its candidates (and those near a speculative
//    estimate) are read and selected.
// Exact fallback (too few rows to sample, a bracket that missed, too many candidates): a
// histogram of the keys' top 16 bits, then — re-reading rows — the units of the bucket
// holding k, or the next 16 bits within it, and so on; when the whole key is known,
// per-row counts of that key locate the tie's row, and one row is read again for its column.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "compiler/codegen/executor_testing.h"
#include "compiler/codegen/run_state.h"
#include "compiler/kir/semantics.h"

namespace kmr::codegen {
namespace {

constexpr int kLevelBits = 16;
constexpr size_t kBuckets = size_t{1} << kLevelBits;
constexpr int64_t kSampleRows = 64;
constexpr int64_t kMinRowsToSample = 256;  // with fewer rows, 64 of them are too much of the tensor
constexpr int64_t kWholeBracketUnits = int64_t{1} << 16;
constexpr int64_t kSampleUnits = int64_t{1} << 18;

// Exact quantiles that fell back from their bracket (testing::bracket_fallbacks).
std::atomic<int64_t> fallbacks_from_brackets{0};

// Finds the bucket holding rank `target`: adds the units of smaller buckets to `below`.
size_t pick_bucket(const std::vector<uint64_t>& hist, int64_t target, int64_t& below) {
  size_t bucket = 0;
  while (bucket + 1 < hist.size() && below + static_cast<int64_t>(hist[bucket]) <= target) below += hist[bucket++];
  return bucket;
}

// Calls fn(value, key, column) for every unit of a scratch row.
template <class F>
void for_units(bool f64, const uint8_t* base, int64_t cols, F fn) {
  if (f64) {
    const auto* v = reinterpret_cast<const double*>(base);
    for (int64_t c = 0; c < cols; ++c) fn(v[c], rank_key(v[c]), c);
  } else {
    const auto* v = reinterpret_cast<const float*>(base);
    for (int64_t c = 0; c < cols; ++c) fn(static_cast<double>(v[c]), static_cast<uint64_t>(rank_key(v[c])), c);
  }
}

// The scan of a row's units against a bracket of keys [lo, hi]: units below lo are
// counted, those inside appended with their positions (base + index) to `out`. When both
// ends are numbers, a key is below lo exactly when the unit compares below lo's value as a
// float (rank_key orders floats as `<` does, -0 with +0; NaN fails both comparisons and
// lies above such a bracket), so the vector loops compare floats; `ahead`, when not null,
// is the next row of the input, prefetched while this row is scanned from cache.
struct Bracket {
  uint32_t lo, hi;
  float lo_value, hi_value;  // meaningful when `numeric`
  bool numeric;
  explicit Bracket(uint32_t lo, uint32_t hi) : lo(lo), hi(hi) {
    constexpr uint32_t kNanKey = 0xffc00000u, kMinusInfKey = 0x007fffffu;
    numeric = lo < kNanKey && hi < kNanKey;
    lo_value = lo <= kMinusInfKey ? -std::numeric_limits<float>::infinity() : value_of(lo);
    hi_value = hi <= kMinusInfKey ? -std::numeric_limits<float>::infinity() : value_of(hi);
  }
  static float value_of(uint32_t key) {  // the inverse of rank_key for the keys of numbers
    uint32_t bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
  }
};

int64_t scan_bracket_scalar(const float* v, int64_t n, const Bracket& b, int64_t base, std::vector<Candidate>& out) {
  int64_t below = 0;
  for (int64_t c = 0; c < n; ++c) {
    uint32_t key = rank_key(v[c]);
    below += key < b.lo;
    if (key >= b.lo && key <= b.hi) out.emplace_back(static_cast<double>(v[c]), base + c);
  }
  return below;
}

// Four units at a time in 16-byte vectors (the width every x86-64 and ARM64 has).
int64_t scan_bracket_portable(const float* v, int64_t n, const Bracket& b, int64_t base, std::vector<Candidate>& out,
                              const float* ahead) {
  int64_t below = 0, c = 0;
#if defined(__GNUC__)
  typedef float f32x4 __attribute__((vector_size(16)));
  typedef int32_t i32x4 __attribute__((vector_size(16)));
  while (c + 4 <= n) {
    // Lane counts stay far below 2^31: flushed every 2^24 units.
    i32x4 counts = {0, 0, 0, 0};
    int64_t end = std::min(n, c + (int64_t{1} << 24)) - 3;
    for (; c < end; c += 4) {
      if (ahead && (c & 15) == 0) __builtin_prefetch(ahead + c, 0, 2);
      f32x4 x;
      std::memcpy(&x, v + c, sizeof x);
      i32x4 lt = x < b.lo_value;
      counts -= lt;
      i32x4 inside = ~lt & (x <= b.hi_value);
      uint64_t lanes[2];
      std::memcpy(lanes, &inside, sizeof lanes);
      if ((lanes[0] | lanes[1]) == 0) continue;
      for (int i = 0; i < 4; ++i)
        if (inside[i]) out.emplace_back(static_cast<double>(v[c + i]), base + c + i);
    }
    for (int i = 0; i < 4; ++i) below += counts[i];
  }
#endif
  return below + scan_bracket_scalar(v + c, n - c, b, base + c, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
// Sixteen units (those of `valid`) from column c of scan_weights_avx512. A vector that
// holds units inside the bracket (one in ten does) is recorded as its column and lane mask
// in scalar registers, without a branch: compressing the columns cost more vector
// instructions than the rest of the step.
template <bool Magnitude>
__attribute__((target("avx512f,popcnt"), always_inline)) inline void scan_weights_step(
    const float* v, int64_t c, __mmask16 valid, __m512 lo, __m512 hi, bool collect, uint64_t* hit,
    __m512i& largest, __m512i& below, int64_t& vectors_hit) {
  __m512i bits = _mm512_maskz_loadu_epi32(valid, v + c);
  __m512i magnitudes = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  largest = _mm512_mask_max_epu32(largest, valid, largest, magnitudes);
  if (collect) {
    __m512 x = _mm512_castsi512_ps(Magnitude ? magnitudes : bits);
    __mmask16 lt = _mm512_mask_cmp_ps_mask(valid, x, lo, _CMP_LT_OQ);
    __mmask16 inside = _mm512_mask_cmp_ps_mask(static_cast<__mmask16>(valid & ~lt), x, hi, _CMP_LE_OQ);
    below = _mm512_mask_sub_epi32(below, lt, below, _mm512_set1_epi32(-1));
    hit[vectors_hit] = static_cast<uint64_t>(c) << 16 | inside;
    vectors_hit += inside != 0;
  }
}

// Sixteen units at a time with AVX-512: the bracket scan of v or abs(v) (into `out`,
// unless it is null: the candidates overflowed), and the largest magnitude bits, `top`.
// On a row of weights (SweepPlan::native_quantile) this is the whole pre-pass of
// magnitude pruning: `top` is the weights' check and the key of the row's max of abs(w).
// The candidates are read again from the vectors recorded. `ahead`, when not null, is
// prefetched.
template <bool Magnitude>
__attribute__((target("avx512f,popcnt"))) int64_t scan_weights_avx512(const float* v, int64_t n, const Bracket& b,
                                                                     int64_t base, std::vector<Candidate>* out,
                                                                     const float* ahead, ScanHits& hits, uint32_t& top) {
  const __m512 lo = _mm512_set1_ps(b.lo_value), hi = _mm512_set1_ps(b.hi_value);
  hits.vectors.resize(n / 16 + 2);  // the record past the last is written, not kept
  uint64_t* hit = hits.vectors.data();
  // Units below the bracket counted per lane: a scalar count stayed in memory (GCC 12),
  // a store-to-load chain through every step. A lane counts at most n / 16 < 2^32 units.
  __m512i largest = _mm512_setzero_si512(), below = _mm512_setzero_si512();
  int64_t vectors_hit = 0;
  bool collect = out != nullptr;
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    if (ahead) _mm_prefetch(reinterpret_cast<const char*>(ahead + c), _MM_HINT_T1);
    scan_weights_step<Magnitude>(v, c, 0xffff, lo, hi, collect, hit, largest, below, vectors_hit);
  }
  if (c < n)
    scan_weights_step<Magnitude>(v, c, static_cast<__mmask16>((1u << (n - c)) - 1), lo, hi, collect, hit, largest, below,
                                 vectors_hit);
  alignas(64) uint32_t lanes[16];  // (GCC 12's _mm512_reduce_max_epu32 warns of itself)
  _mm512_store_si512(lanes, largest);
  top = *std::max_element(lanes, lanes + 16);
  _mm512_store_si512(lanes, below);
  int64_t units_below = 0;
  for (uint32_t count : lanes) units_below += count;
  if (out) {  // the weights themselves (GlobalSelect::weights), written in place
    size_t found = 0;
    for (int64_t i = 0; i < vectors_hit; ++i) found += __builtin_popcount(static_cast<uint32_t>(hit[i] & 0xffff));
    out->resize(out->size() + found);
    Candidate* to = out->data() + out->size() - found;
    for (int64_t i = 0; i < vectors_hit; ++i)
      for (auto inside = static_cast<uint32_t>(hit[i] & 0xffff); inside != 0; inside &= inside - 1) {
        int64_t col = static_cast<int64_t>(hit[i] >> 16) + __builtin_ctz(inside);
        *to++ = Candidate(static_cast<double>(v[col]), base + col);
      }
  }
  return units_below;
}

// Eight units at a time, on CPUs with AVX2.
__attribute__((target("avx2"))) int64_t scan_bracket_avx2(const float* v, int64_t n, const Bracket& b, int64_t base,
                                                           std::vector<Candidate>& out, const float* ahead) {
  const __m256 lo = _mm256_set1_ps(b.lo_value), hi = _mm256_set1_ps(b.hi_value);
  int64_t below = 0, c = 0;
  while (c + 8 <= n) {
    __m256i counts = _mm256_setzero_si256();  // flushed every 2^24 units
    int64_t end = std::min(n, c + (int64_t{1} << 24)) - 7;
    for (; c < end; c += 8) {
      if (ahead && (c & 15) == 0) _mm_prefetch(reinterpret_cast<const char*>(ahead + c), _MM_HINT_T1);
      __m256 x = _mm256_loadu_ps(v + c);
      __m256 lt = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
      counts = _mm256_sub_epi32(counts, _mm256_castps_si256(lt));
      unsigned inside = static_cast<unsigned>(_mm256_movemask_ps(_mm256_andnot_ps(lt, _mm256_cmp_ps(x, hi, _CMP_LE_OQ))));
      for (; inside; inside &= inside - 1) {
        int i = __builtin_ctz(inside);
        out.emplace_back(static_cast<double>(v[c + i]), base + c + i);
      }
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), counts);
    for (int32_t lane : lanes) below += lane;
  }
  return below + scan_bracket_scalar(v + c, n - c, b, base + c, out);
}
#endif

// The widest scan the CPU has (chosen at run time), no wider than the tests allow.
int64_t scan_bracket(const float* v, int64_t n, const Bracket& b, int64_t base, std::vector<Candidate>& out,
                     const float* ahead, ScanHits& hits) {
  int widest = testing::scan_width_cap().load();
  if (!b.numeric || widest < 4) return scan_bracket_scalar(v, n, b, base, out);
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
  static const bool avx2 = __builtin_cpu_supports("avx2");
  uint32_t top = 0;  // unused here
  if (avx512 && widest >= 16) return scan_weights_avx512<false>(v, n, b, base, &out, ahead, hits, top);
  if (avx2 && widest >= 8) return scan_bracket_avx2(v, n, b, base, out, ahead);
#endif
  return scan_bracket_portable(v, n, b, base, out, ahead);
}

// The indices i of digits[0..n) with first <= digits[i] <= first + width, into `out` (room
// for n + 16); returns how many. Without a branch per digit: the selection's digits in a
// range are a few percent of them, at random.
uint32_t digits_in_range_scalar(const uint16_t* digits, uint32_t n, uint16_t first, uint16_t width, uint32_t* out) {
  uint32_t found = 0;
  for (uint32_t i = 0; i < n; ++i) {
    out[found] = i;
    found += static_cast<uint16_t>(digits[i] - first) <= width;  // one unsigned compare for both ends
  }
  return found;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,popcnt"))) uint32_t digits_in_range_avx512(const uint16_t* digits, uint32_t n,
                                                                         uint16_t first, uint16_t width, uint32_t* out) {
  const __m512i lowest = _mm512_set1_epi32(first), widest = _mm512_set1_epi32(width);
  __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  uint32_t found = 0, i = 0;
  for (; i + 16 <= n; i += 16) {
    // (The masked form: GCC 12 warns of the unmasked one's undefined source.)
    __m512i d = _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(digits + i)));
    __mmask16 in = _mm512_cmple_epu32_mask(_mm512_sub_epi32(d, lowest), widest);  // d < first wraps above
    // Compressed in a register, stored whole (a compress to memory is microcoded on Zen 4).
    _mm512_storeu_si512(out + found, _mm512_maskz_compress_epi32(in, index));
    found += __builtin_popcount(in);
    index = _mm512_add_epi32(index, _mm512_set1_epi32(16));
  }
  uint32_t rest = digits_in_range_scalar(digits + i, n - i, first, width, out + found);
  for (uint32_t j = found; j < found + rest; ++j) out[j] += i;
  return found + rest;
}
#endif

uint32_t digits_in_range(const uint16_t* digits, uint32_t n, uint16_t first, uint16_t width, uint32_t* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
  if (avx512 && testing::scan_width_cap().load() >= 16) return digits_in_range_avx512(digits, n, first, width, out);
#endif
  return digits_in_range_scalar(digits, n, first, width, out);
}

// Whether scan_weights runs sweep `sweep` of `g` once its bracket is set: the same for
// every row of the run.
bool native_scan_runs(const SweepPlan& sweep, const GlobalSelect& g) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
  return avx512 && testing::scan_width_cap().load() >= 16 && sweep.native_quantile == g.id && g.bracket &&
         Bracket(static_cast<uint32_t>(g.lo), static_cast<uint32_t>(g.hi)).numeric;
#else
  (void)sweep, (void)g;
  return false;
#endif
}

// The first radix level of the selection among candidates, whose keys lie in [lo, hi].
RadixDigit<uint32_t> first_digit(const GlobalSelect& g) {
  return {static_cast<uint32_t>(g.lo), static_cast<uint32_t>(g.hi), 11};
}

// The units at a few close ranks of v[0..m) (ascending; each in [0, m)), into `units`:
// the quantile's bracket ends and estimate in a sample of 2^18 units, where a radix select
// per rank reads the whole sample four times (three selects took 0.8 ms). Every 32nd
// unit's ranks, ±6σ around the wanted ones, bracket them; one vector scan counts the units
// below and collects the few inside (~20,000 for the bracket's 2^18), among which the
// ranks are found together (keys_at_ranks: 0.19 ms as three selects). A rank the
// sub-sample's bracket missed is selected over all of v.
void select_close_ranks(const float* v, int64_t m, const std::vector<int64_t>& ranks, std::vector<float>& units,
                        Worker& w) {
  constexpr int64_t kStride = 32;
  units.assign(ranks.size(), 0.0f);
  std::vector<float> sub;
  for (int64_t i = 0; i < m; i += kStride) sub.push_back(v[i]);
  auto s = static_cast<int64_t>(sub.size());
  auto sub_rank = [&](int64_t rank, double sigmas) {
    double p = (static_cast<double>(rank) + 0.5) / static_cast<double>(m);
    double spread = sigmas * (std::sqrt(static_cast<double>(s) * p * (1 - p)) + 1) + 2;
    return static_cast<int64_t>(std::floor(p * static_cast<double>(s) + spread));
  };
  int64_t a = sub_rank(ranks.front(), -6), b = sub_rank(ranks.back(), 6);
  constexpr uint32_t kPlusInfKey = 0xff800000u;  // an open top stays a numeric bracket
  std::vector<int64_t> sub_ranks;
  if (a > 0) sub_ranks.push_back(a);
  if (b < s - 1) sub_ranks.push_back(b);
  std::vector<uint32_t> keys;
  keys_at_ranks(sub.data(), s, sub_ranks, keys, w.select);
  uint32_t lo = a <= 0 ? 0 : keys.front();
  uint32_t hi = b >= s - 1 ? kPlusInfKey : keys.back();
  std::vector<Candidate>& inside = w.inside;
  inside.clear();
  int64_t below = lo > hi ? m : scan_bracket(v, m, Bracket(lo, hi), 0, inside, nullptr, w.hits);
  std::vector<float>& values = w.units_inside;
  values.clear();
  for (const Candidate& unit : inside) values.push_back(static_cast<float>(unit.value));
  auto n_inside = static_cast<int64_t>(values.size());
  std::vector<int64_t> inside_ranks;
  for (int64_t r : ranks)
    if (r >= below && r - below < n_inside) inside_ranks.push_back(r - below);
  keys_at_ranks(values.data(), n_inside, inside_ranks, keys, w.select);
  for (size_t i = 0, found = 0; i < ranks.size(); ++i) {
    int64_t r = ranks[i];
    units[i] = r >= below && r - below < n_inside ? from_rank_key(keys[found++]) : v[select_rank(v, m, r, w.select)];
  }
}

}  // namespace

// At most this many candidates (16 bytes each) are collected.
std::atomic<int64_t>& testing::candidate_cap() {
  static std::atomic<int64_t> cap{int64_t{1} << 20};
  return cap;
}
// The widest bracket scan used, in units per step (tests lower it to run every variant).
std::atomic<int>& testing::scan_width_cap() {
  static std::atomic<int> width{16};
  return width;
}
int64_t testing::bracket_fallbacks() { return fallbacks_from_brackets.load(); }
// Sample ranks added to the speculative estimate's (tests move it away from the quantile).
std::atomic<int64_t>& testing::estimate_offset() {
  static std::atomic<int64_t> offset{0};
  return offset;
}

void RunState::plan_select(GlobalSelect& g) {
  const NodeInfo& info = L.nodes[g.id];
  int64_t n = rows * cols, tasks = row_tasks(), cap = testing::candidate_cap().load();
  recycle(g.found);
  g.found.resize(tasks);
  for (auto& part : g.found)
    if (!spare_candidates.empty()) {
      part = std::move(spare_candidates.back());
      spare_candidates.pop_back();
    }
  g.collected = 0;
  g.overflow = false;
  g.estimate.reset();
  g.weights = g.magnitude = false;
  g.digits.assign(threads, {});
  g.bracket = n <= std::min(cap, kWholeBracketUnits);
  g.lo = 0;
  g.hi = ~uint64_t{0};
  if (g.bracket || rows < kMinRowsToSample) return;
  std::vector<float>& sample32 = workers[0].units32;  // worker 0's unit buffers are free until the selection
  std::vector<double>& sample = workers[0].units64;
  int64_t m = 0;
  const SweepPlan& sweep = L.sweeps[g.pass][g.sweep];
  if (sweep.native_quantile == g.id) {
    // Units straight from the weights (the operand is w or abs(w)): runs of 64 (a page
    // walk each, costly in a VM) at spots spread over up to 1024 rows, so that neither rows
    // nor columns of different scales skew the sample. (64 whole rows did: on the bench
    // matrix, whose rows differ in scale, their estimate of rank k was 1.8σ off.)
    constexpr int64_t kRun = 64;
    int64_t run = std::min(cols, kRun), sample_rows = std::min<int64_t>(rows, 1024);
    int64_t spots = std::clamp<int64_t>(kSampleUnits / (run * sample_rows), 1, std::max<int64_t>(1, cols / run));
    m = sample_rows * spots * run;
    sample32.resize(m);
    // Spots shift from row to row (a multiplicative hash) so that every column is sampled.
    auto spot_of = [&](int64_t i, int64_t j) {
      uint64_t shifted = static_cast<uint64_t>(i) * 2654435761u + static_cast<uint64_t>(j * cols / spots);
      return in.data + (i * rows / sample_rows) * cols + static_cast<int64_t>(shifted % static_cast<uint64_t>(cols - run + 1));
    };
    int64_t tasks = std::min<int64_t>(sample_rows, 16);
    pool.run(tasks, threads, [&](int64_t task, int) {
      constexpr int64_t kAhead = 4;  // rows
      for (int64_t i = sample_rows * task / tasks, last = sample_rows * (task + 1) / tasks; i < last; ++i)
        for (int64_t j = 0; j < spots; ++j) {
          if (i + kAhead < last)
            for (int64_t c = 0; c < run; c += 16) __builtin_prefetch(spot_of(i + kAhead, j) + c, 0, 0);
          const float* units = spot_of(i, j);
          float* to = &sample32[(i * spots + j) * run];
          for (int64_t c = 0; c < run; ++c) to[c] = sweep.native_magnitude ? std::fabs(units[c]) : units[c];
        }
    });
  } else {
    // Every stride-th unit of 64 evenly spaced rows, their operand computed by processing
    // those rows up to the sweep (processing is idempotent; the pass redoes them).
    int64_t stride = std::max<int64_t>(1, kSampleRows * cols / kSampleUnits);
    int64_t per_row = (cols + stride - 1) / stride;
    m = kSampleRows * per_row;
    sample32.resize(info.scratch_f64 ? 0 : m);
    sample.resize(info.scratch_f64 ? m : 0);
    pool.run(kSampleRows, threads, [&](int64_t task, int worker) {
      process_row(g.pass, task * rows / kSampleRows, workers[worker], Mode::Rerun, g.sweep, [&](int64_t, Worker& w, int64_t) {
        const uint8_t* base = reinterpret_cast<const uint8_t*>(w.scratch.data()) + ix[L.ix.scratch_base + info.scratch];
        for (int64_t c = 0, i = task * per_row; c < cols; c += stride, ++i) {
          if (info.scratch_f64) sample[i] = reinterpret_cast<const double*>(base)[c];
          else sample32[i] = reinterpret_cast<const float*>(base)[c];
        }
      }, task);
    });
  }
  int64_t target = std::min(kir::sem::quantile_rank(us[L.nodes[info.operands[1]].slot], n), n - 1);
  double p = (static_cast<double>(target) + 0.5) / static_cast<double>(n);
  double center = p * static_cast<double>(m), margin = 4 * std::sqrt(static_cast<double>(m) * p * (1 - p)) + 64;
  auto lo_rank = static_cast<int64_t>(std::floor(center - margin)), hi_rank = static_cast<int64_t>(std::ceil(center + margin));
  bool estimate = L.speculation.quantile == g.id && !info.scratch_f64;
  int64_t at = std::llround(center) + testing::estimate_offset().load();
  // An end at the sample's first or last rank leaves the bracket open there.
  bool open_lo = lo_rank <= 0 || lo_rank >= m - 1, open_hi = hi_rank <= 0 || hi_rank >= m - 1;
  if (info.scratch_f64) {
    int64_t ranks[2] = {lo_rank, hi_rank};
    uint64_t keys[2] = {g.lo, g.hi};
    pool.run(2, threads, [&](int64_t end, int worker) {  // in parallel: each worker has its own buffers
      if (end == 0 ? open_lo : open_hi) return;
      keys[end] = rank_key(sample[select_rank(sample.data(), m, ranks[end], workers[worker].select)]);
    });
    g.lo = keys[0];
    g.hi = keys[1];
  } else {
    std::vector<int64_t> ranks;
    if (!open_lo) ranks.push_back(lo_rank);
    if (estimate && at >= 0 && at < m) ranks.push_back(at);
    if (!open_hi) ranks.push_back(hi_rank);
    std::sort(ranks.begin(), ranks.end());
    std::vector<float> units;
    if (!ranks.empty()) select_close_ranks(sample32.data(), m, ranks, units, workers[0]);
    auto unit_at = [&](int64_t rank) { return units[std::find(ranks.begin(), ranks.end(), rank) - ranks.begin()]; };
    if (!open_lo) g.lo = rank_key(unit_at(lo_rank));
    if (!open_hi) g.hi = rank_key(unit_at(hi_rank));
    // The estimate: the sample's unit at rank k's place (moved by tests), if inside the bracket.
    if (estimate && at >= 0 && at < m && rank_key(unit_at(at)) >= g.lo && rank_key(unit_at(at)) <= g.hi)
      g.estimate = unit_at(at);
  }
  g.bracket = true;
  g.weights = native_scan_runs(sweep, g);
  g.magnitude = g.weights && sweep.native_magnitude;
  // Room for the expected candidates (2·margin/m of the tensor), so collecting rarely grows.
  auto expected = static_cast<size_t>(2.5 * margin / static_cast<double>(m) * static_cast<double>(n) / static_cast<double>(tasks));
  for (auto& part : g.found) {
    part.list.reserve(std::min<size_t>(expected, static_cast<size_t>(cap)));
    if (!info.scratch_f64) part.digits.reserve(part.list.capacity());
  }
}

void RunState::recycle(std::vector<TaskCandidates>& lists) {
  for (auto& part : lists) {
    part.list.clear();
    part.digits.clear();
    part.below = 0;
    part.published = 0;
    if (part.list.capacity() > 0) spare_candidates.push_back(std::move(part));
  }
  lists.clear();
}

void RunState::histogram_row(GlobalSelect& g, Worker& w) {
  const NodeInfo& info = L.nodes[g.id];
  auto& hist = w.hist[g.index];
  if (hist.empty()) hist.assign(kBuckets, 0);
  const uint8_t* base = reinterpret_cast<const uint8_t*>(w.scratch.data()) + ix[L.ix.scratch_base + info.scratch];
  int shift = info.scratch_f64 ? 64 - kLevelBits : 32 - kLevelBits;
  for_units(info.scratch_f64, base, cols, [&](double, uint64_t key, int64_t) { ++hist[key >> shift]; });
}

void RunState::select_row(GlobalSelect& g, int64_t row, Worker& w, int64_t task) {
  if (!g.bracket) return histogram_row(g, w);
  if (g.overflow) return;  // the fallback will read the tensor again
  const NodeInfo& info = L.nodes[g.id];
  const uint8_t* base = reinterpret_cast<const uint8_t*>(w.scratch.data()) + ix[L.ix.scratch_base + info.scratch];
  auto& part = g.found[task];
  auto& found = part.list;
  size_t before = found.size();
  int64_t below = 0;
  if (info.scratch_f64) {
    for_units(true, base, cols, [&](double v, uint64_t key, int64_t c) {
      below += key < g.lo;
      if (key >= g.lo && key <= g.hi) found.emplace_back(v, row * cols + c);
    });
  } else {
    const float* next_row = row + 1 < rows ? in.data + (row + 1) * cols : nullptr;
    below = scan_bracket(reinterpret_cast<const float*>(base), cols,
                         Bracket(static_cast<uint32_t>(g.lo), static_cast<uint32_t>(g.hi)), row * cols, found, next_row, w.hits);
  }
  count_collected(g, part, below, before, w);
}

bool RunState::scan_weights(const SweepPlan& plan, int64_t row, Worker& w, int64_t task) {
#if defined(__x86_64__) && defined(__GNUC__)
  GlobalSelect* g = select_of(plan.native_quantile);
  if (!g || !g->weights) return false;  // plan_select decided for the whole run
  Bracket bracket(static_cast<uint32_t>(g->lo), static_cast<uint32_t>(g->hi));
  const float* weights = in.data + row * cols;
  auto& part = g->found[task];
  size_t before = part.list.size();
  std::vector<Candidate>* out = g->overflow ? nullptr : &part.list;  // after an overflow the fallback reads again
  uint32_t top = 0;
  int64_t below = plan.native_magnitude ? scan_weights_avx512<true>(weights, cols, bracket, row * cols, out, nullptr, w.hits, top)
                                        : scan_weights_avx512<false>(weights, cols, bracket, row * cols, out, nullptr, w.hits, top);
  count_collected(*g, part, below, before, w);
  // What the sweep would have left: each row max's key (the bits of a magnitude; the
  // identity on an empty row) and the weights' check.
  double* slots = &rs[row * L.row_slots];
  for (int id : plan.native_row_max) slots[L.nodes[id].slot] = from_i64(cols > 0 ? int64_t{top} : int64_t{INT32_MIN});
  slots[plan.flag_slot + kFlagInput] = plan.check_input && top >= 0x7f800000u ? 1.0 : 0.0;  // infinity's bits
  return true;
#else
  (void)plan, (void)row, (void)w, (void)task;
  return false;
#endif
}

void RunState::count_collected(GlobalSelect& g, TaskCandidates& part, int64_t below, size_t before, Worker& w) {
  constexpr size_t kPublishStep = 1024;  // candidates: beyond the cap by at most this per task
  const auto& found = part.list;
  part.below += below;
  if (found.size() - part.published >= kPublishStep) {
    if (g.collected += static_cast<int64_t>(found.size() - part.published); g.collected > testing::candidate_cap().load())
      g.overflow = true;
    part.published = found.size();
  }
  if (L.nodes[g.id].scratch_f64) return;
  // The selection's first radix level, counted while the candidates are in cache.
  const auto digit = first_digit(g);
  auto& hist = g.digits[&w - workers.data()];
  if (hist.empty()) hist.assign(digit.buckets, 0);
  int64_t* counts = hist.data();  // locals: the counts' stores cannot alias them
  // Keys lie in [lo, hi]: every digit is below digit.buckets <= 2^11.
  part.digits.resize(found.size());
  uint16_t* digits = part.digits.data();
  for (size_t i = before, end = found.size(); i < end; ++i) {
    auto d = static_cast<uint16_t>(digit.of(rank_key(g.unit_of(found[i]))));
    ++counts[d];
    digits[i] = d;
  }
}

Candidate RunState::select_candidate(GlobalSelect& g, int64_t rank, bool inside_pool) {
  auto digit = first_digit(g);
  auto tasks = static_cast<int64_t>(g.found.size());
  int halves = inside_pool ? 1 : static_cast<int>(std::min<int64_t>({threads, 2, tasks}));
  auto over_half = [&](const std::function<void(int half, int64_t task)>& fn) {
    auto scan = [&](int64_t half, int) {
      for (int64_t t = tasks * half / halves; t < tasks * (half + 1) / halves; ++t) fn(static_cast<int>(half), t);
    };
    if (halves == 1) scan(0, 0);
    else pool.run(halves, halves, scan);
  };
  // 1. The bucket of the first digit that holds `rank`, from the counts the scans kept.
  std::vector<uint64_t> hist(digit.buckets, 0);
  for (const auto& counted : g.digits)
    for (size_t b = 0; b < counted.size(); ++b) hist[b] += static_cast<uint64_t>(counted[b]);
  int64_t below = 0;
  size_t bucket = pick_bucket(hist, rank, below);
  // 2. The bucket's candidates, in position order (halves in task order); with a
  //    speculative estimate E, the candidates between E and the bucket, per task: every
  //    unit whose comparison with E differs from that with the unit selected.
  std::vector<std::vector<const Candidate*>> members(halves);
  bool near = g.estimate.has_value();  // set only for Layout::speculation
  uint32_t bucket_lo = (digit.base + static_cast<uint32_t>(bucket)) << digit.shift, bucket_hi = bucket_lo + ((uint32_t{1} << digit.shift) - 1);
  uint32_t near_lo = near ? std::min(rank_key(*g.estimate), bucket_lo) : 0;
  uint32_t near_width = near ? std::max(rank_key(*g.estimate), bucket_hi) - near_lo : 0;
  g.near_estimate.resize(tasks);
  // The digits of the bucket and of the near keys' buckets (a superset of them).
  const auto bucket_digit = static_cast<uint16_t>(bucket);
  const auto near_digit = static_cast<uint16_t>(near ? digit.of(near_lo) : 0);
  const auto near_digits = static_cast<uint16_t>(near ? digit.of(near_lo + near_width) - near_digit : 0);
  const bool magnitude = g.magnitude;
  std::vector<std::vector<uint32_t>> indices(halves);
  over_half([&, bucket_digit, near, near_lo, near_width, near_digit, near_digits, magnitude](int half, int64_t t) {
    // By-value copies stay in registers: the pushes could alias anything captured by reference.
    auto& set_aside = g.near_estimate[t];
    auto& in_bucket = members[half];
    set_aside.clear();
    // From the digits alone, the indices of the bucket's candidates and of those in the
    // near keys' buckets; only those candidates are then read (the lists are 8x larger
    // than the digits and mostly out of cache by now), prefetched ahead.
    const Candidate* list = g.found[t].list.data();
    const uint16_t* digits = g.found[t].digits.data();
    auto n = static_cast<uint32_t>(g.found[t].digits.size());  // < the cap, 2^20
    auto& found = indices[half];
    found.resize(n + 16);
    for (uint32_t j = 0, m = digits_in_range(digits, n, bucket_digit, 0, found.data()); j < m; ++j)
      in_bucket.push_back(&list[found[j]]);
    if (!near) return;
    constexpr uint32_t kAhead = 64;
    for (uint32_t j = 0, m = digits_in_range(digits, n, near_digit, near_digits, found.data()); j < m; ++j) {
      if (j + kAhead < m) __builtin_prefetch(&list[found[j + kAhead]]);
      const Candidate& c = list[found[j]];
      if (rank_key(GlobalSelect::unit_of(c, magnitude)) - near_lo <= near_width) set_aside.push_back(c);  // one compare for both ends
    }
  });
  // 3. Rank `rank` - below among them, by (value, position).
  std::vector<const Candidate*> in_bucket;
  for (const auto& part : members) in_bucket.insert(in_bucket.end(), part.begin(), part.end());
  std::vector<float>& values = workers[0].units32;
  values.clear();
  for (const Candidate* c : in_bucket) values.push_back(g.unit_of(*c));
  auto m = static_cast<int64_t>(values.size());
  if (m == 0) return Candidate(0, 0);  // unreachable: the counts said rank k is among the candidates
  return *in_bucket[select_rank(values.data(), m, std::min(rank - below, m - 1), workers[0].select)];
}

bool RunState::select_over_all(int id, bool bracket_only, bool inside_pool) {
  GlobalSelect& g = *select_of(id);
  const NodeInfo& info = L.nodes[id];
  int64_t n = rows * cols;
  int64_t k = kir::sem::quantile_rank(us[L.nodes[info.operands[1]].slot], n);
  us[info.slot] = 0;
  us[info.pos_slot] = from_i64(kPastEnd);
  if (n == 0) return true;
  int64_t target = std::min(k, n - 1);
  double value = 0;
  int64_t pos = 0;
  // The candidates stay (settle_speculation reads them) until the next plan_select or the
  // end of the run.
  auto finish = [&] {
    us[info.slot] = value;
    us[info.pos_slot] = from_i64(k == n ? kPastEnd : pos);
  };
  // Select among candidates (in position order) the one at rank `rank` among them.
  auto pick = [&](const std::vector<TaskCandidates>& found, int64_t rank) {
    int64_t m = 0;
    for (const auto& part : found) m += static_cast<int64_t>(part.list.size());
    if (m == 0) return;  // unreachable: the counts said rank k is among them
    rank = std::min(rank, m - 1);
    std::vector<double>& values = workers[0].units64;
    std::vector<float>& values32 = workers[0].units32;  // f32 scratch: selected on 32-bit keys
    values.clear();
    values32.clear();
    for (const auto& part : found)
      for (const auto& c : part.list) {
        if (info.scratch_f64) values.push_back(c.value);
        else values32.push_back(g.unit_of(c));
      }
    int64_t index = info.scratch_f64 ? select_rank(values.data(), m, rank, workers[0].select)
                                     : select_rank(values32.data(), m, rank, workers[0].select);
    for (const auto& part : found) {
      if (index < static_cast<int64_t>(part.list.size())) {
        value = info.scratch_f64 ? part.list[index].value : g.unit_of(part.list[index]);
        pos = part.list[index].pos;
        return;
      }
      index -= static_cast<int64_t>(part.list.size());
    }
  };
  auto scratch_of = [&](Worker& w) {
    return reinterpret_cast<const uint8_t*>(w.scratch.data()) + ix[L.ix.scratch_base + info.scratch];
  };

  // The fast path: rank k inside the bracket, whose candidates did not overflow the cap
  // (the tasks publish their counts in steps, so only the total tells).
  int64_t below_bracket = 0, inside = 0;
  for (const auto& part : g.found) below_bracket += part.below, inside += static_cast<int64_t>(part.list.size());
  if (g.bracket && !g.overflow && inside <= testing::candidate_cap().load()) {
    if (below_bracket <= target && target < below_bracket + inside) {
      if (info.scratch_f64) {
        pick(g.found, target - below_bracket);
      } else {
        Candidate selected = select_candidate(g, target - below_bracket, inside_pool);
        value = g.unit_of(selected);
        pos = selected.pos;
      }
      finish();
      return true;
    }
  }
  if (bracket_only) return false;
  if (g.bracket) ++fallbacks_from_brackets;
  recycle(g.found);
  if (g.bracket) rerun(g.pass, g.sweep, [&](int64_t, Worker& w, int64_t) { histogram_row(g, w); });

  // The fallback, from the level-1 histogram.
  const int width = info.scratch_f64 ? 64 : 32;
  std::vector<uint64_t> hist(kBuckets, 0);
  for (auto& w : workers) {
    auto& mine = w.hist[g.index];
    for (size_t b = 0; b < mine.size(); ++b) hist[b] += mine[b];
  }
  int shift = width - kLevelBits;
  int64_t below = 0;
  uint64_t prefix = static_cast<uint64_t>(pick_bucket(hist, target, below)) << shift;
  int64_t count = static_cast<int64_t>(hist[prefix >> shift]);
  for (;;) {
    uint64_t top = prefix >> shift;
    if (count <= testing::candidate_cap().load()) {
      // The bucket's units, in position order, and a select among them.
      std::vector<TaskCandidates> per_task(row_tasks());
      rerun(g.pass, g.sweep, [&](int64_t row, Worker& w, int64_t task) {
        for_units(info.scratch_f64, scratch_of(w), cols, [&](double v, uint64_t key, int64_t c) {
          if ((key >> shift) == top) per_task[task].list.emplace_back(v, row * cols + c);
        });
      });
      pick(per_task, target - below);
      break;
    }
    if (shift == 0) {
      // Every unit of the bucket has the key `prefix`: count them per row, then find the
      // tie's column in its row.
      std::vector<int64_t> per_row(rows, 0);
      rerun(g.pass, g.sweep, [&](int64_t row, Worker& w, int64_t) {
        for_units(info.scratch_f64, scratch_of(w), cols, [&](double, uint64_t key, int64_t) { per_row[row] += key == prefix; });
      });
      int64_t want = target - below, row = 0;
      while (row + 1 < rows && per_row[row] <= want) want -= per_row[row++];
      process_row(g.pass, row, workers[0], Mode::Rerun, g.sweep, [&](int64_t, Worker& w, int64_t) {
        for_units(info.scratch_f64, scratch_of(w), cols, [&](double v, uint64_t key, int64_t c) {
          if (key == prefix && want-- == 0) value = v, pos = row * cols + c;
        });
      }, 0);
      break;
    }
    // The next 16 bits, within the bucket.
    int next = shift - kLevelBits;
    std::vector<std::vector<uint64_t>> level(workers.size(), std::vector<uint64_t>(kBuckets, 0));
    rerun(g.pass, g.sweep, [&](int64_t, Worker& w, int64_t) {
      auto& mine = level[&w - workers.data()];
      for_units(info.scratch_f64, scratch_of(w), cols, [&](double, uint64_t key, int64_t) {
        if ((key >> shift) == top) ++mine[(key >> next) & (kBuckets - 1)];
      });
    });
    std::fill(hist.begin(), hist.end(), 0);
    for (const auto& mine : level)
      for (size_t b = 0; b < kBuckets; ++b) hist[b] += mine[b];
    size_t bucket = pick_bucket(hist, target, below);
    prefix |= static_cast<uint64_t>(bucket) << next;
    count = static_cast<int64_t>(hist[bucket]);
    shift = next;
  }
  finish();
  return true;
}

}  // namespace kmr::codegen
