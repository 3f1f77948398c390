// Exact rank selection without sorting, against a sort by (value, position): ties, signed
// zeros (equal) and NaNs (after every number) included.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <doctest/doctest.h>

#include "compiler/codegen/rank_select.h"

namespace kmr::test {
namespace {

template <class T>
std::vector<int64_t> sorted_by_rank(const std::vector<T>& v) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    bool an = std::isnan(v[a]), bn = std::isnan(v[b]);
    if (an || bn) return !an && bn;
    return v[a] < v[b];
  });
  return order;
}

template <class T>
void check_all_ranks(const std::vector<T>& v) {
  codegen::SelectScratch scratch;
  auto order = sorted_by_rank(v);
  for (int64_t k = 0; k < static_cast<int64_t>(v.size()); ++k)
    REQUIRE(codegen::select_rank(v.data(), static_cast<int64_t>(v.size()), k, scratch) == order[k]);
}

TEST_CASE("select_rank finds the unit at every rank, ties broken by position") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 2, 5, 24, 25, 100, 1000}) {
    std::vector<float> gauss(n), ties(n), narrow(n);
    std::vector<double> wide(n);
    for (int64_t i = 0; i < n; ++i) {
      gauss[i] = static_cast<float>(normal(rng));
      const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.5f, nan, -nan, inf, -inf};
      ties[i] = pool[rng() % 9];
      narrow[i] = 1.0f + static_cast<float>(rng() % 3) * 1e-7f;  // keys sharing their top bytes
      wide[i] = rng() % 4 == 0 ? 0.0 : normal(rng) * 1e300;
    }
    check_all_ranks(gauss);
    check_all_ranks(ties);
    check_all_ranks(narrow);
    check_all_ranks(wide);
  }
  CHECK(codegen::rank_key(-0.0f) == codegen::rank_key(0.0f));
  CHECK(codegen::rank_key(nan) > codegen::rank_key(inf));
  CHECK(codegen::rank_key(-nan) == codegen::rank_key(nan));
  CHECK(codegen::from_signed_key(codegen::signed_key(-3.5f)) == -3.5f);
  CHECK(codegen::signed_key(-0.0f) < codegen::signed_key(0.0f));
}

TEST_CASE("select_rank on large inputs (several radix levels) agrees with a sort at sampled ranks") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t n = (int64_t{1} << 16) + 37;
  std::vector<float> gauss(n), ties(n), bracket(n);
  std::vector<double> wide(n);
  for (int64_t i = 0; i < n; ++i) {
    gauss[i] = static_cast<float>(normal(rng));
    bracket[i] = 0.0135f + static_cast<float>(rng() % 300000) * 1e-9f;  // a quantile's candidates: keys 2^18 apart
    const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 1.0000001f, nan};
    ties[i] = pool[rng() % 6];
    wide[i] = rng() % 4 == 0 ? -0.0 : normal(rng) * 1e-300;
  }
  codegen::SelectScratch scratch;
  auto check = [&](const auto& v) {
    auto order = sorted_by_rank(v);
    for (int64_t k : {int64_t{0}, int64_t{1}, n / 3, n / 2, n - 2, n - 1})
      for (int64_t at : {k, (k * 7919 + 13) % n}) {
        CAPTURE(at);
        REQUIRE(codegen::select_rank(v.data(), n, at, scratch) == order[at]);
      }
  };
  check(gauss);
  check(ties);
  check(bracket);
  check(wide);
}

TEST_CASE("keys_at_ranks gives a sort's keys at several ranks at once, equal ranks and one bucket included") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t n = 20011;
  std::vector<float> gauss(n), ties(n), narrow(n);
  for (int64_t i = 0; i < n; ++i) {
    gauss[i] = static_cast<float>(normal(rng));
    const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 1.0000001f, nan};
    ties[i] = pool[rng() % 6];
    narrow[i] = 0.5f + static_cast<float>(rng() % 1000) * 1e-7f;  // keys in a few buckets
  }
  codegen::SelectScratch scratch;
  for (const auto* v : {&gauss, &ties, &narrow}) {
    auto order = sorted_by_rank(*v);
    for (const std::vector<int64_t>& ranks : std::vector<std::vector<int64_t>>{
             {0}, {n - 1}, {0, n / 2, n - 1}, {n / 3, n / 3, n / 3 + 1}, {100, 9000, 9001, 15000}}) {
      std::vector<uint32_t> keys;
      codegen::keys_at_ranks(v->data(), n, ranks, keys, scratch);
      REQUIRE(keys.size() == ranks.size());
      for (size_t i = 0; i < ranks.size(); ++i) {
        CAPTURE(ranks[i]);
        CHECK(keys[i] == codegen::rank_key((*v)[order[ranks[i]]]));
      }
    }
  }
  std::vector<uint32_t> keys;
  codegen::keys_at_ranks(gauss.data(), 0, {}, keys, scratch);
  CHECK(keys.empty());
}

TEST_CASE("from_rank_key inverts rank_key: numbers, both zeros as +0, NaN") {
  for (float x : {-3.5f, -1e-40f, 0.0f, 1e-40f, 2.0f, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()})
    CHECK(codegen::from_rank_key(codegen::rank_key(x)) == x);
  CHECK_FALSE(std::signbit(codegen::from_rank_key(codegen::rank_key(-0.0f))));
  CHECK(std::isnan(codegen::from_rank_key(codegen::rank_key(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace kmr::test
