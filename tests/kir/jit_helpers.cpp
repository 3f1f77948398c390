// Agreement between engines, checked field by field so a failure names what differs.
#include "jit_helpers.h"

#include <cmath>
#include <cstring>

#include <doctest/doctest.h>

#include "compiler/interp/interpreter.h"

namespace kmr::test {

codegen::Jit& test_jit() {
  static std::unique_ptr<codegen::Jit> jit = [] {
    auto created = codegen::Jit::create(codegen::JitOptions{""});
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
    return std::move(*created);
  }();
  return *jit;
}

int64_t ulp_distance(float a, float b) {
  if (a == b) return 0;
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  auto ordered = [](float x) {
    int32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    int64_t magnitude = bits & 0x7fffffff;
    return bits < 0 ? -magnitude : magnitude;
  };
  int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

namespace {

bool floats_within_ulp(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  if (a.size() != b.size()) {
    FAIL_CHECK(what << ": " << a.size() << " values against " << b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i)
    if (ulp_distance(a[i], b[i]) > 1) {
      FAIL_CHECK(what << " [" << i << "]: interpreter " << a[i] << ", JIT " << b[i]);
      return false;
    }
  return true;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

bool agree(const Expected<kir::KernelOutput>& interp, const Expected<kir::KernelOutput>& jit) {
  if (!interp.ok() || !jit.ok()) {
    std::string a = interp.ok() ? "(ok)" : interp.error().message, b = jit.ok() ? "(ok)" : jit.error().message;
    CHECK_MESSAGE(a == b, "interpreter: " << a << "\nJIT: " << b);
    return a == b;
  }
  const auto &x = *interp, &y = *jit;
  bool ok = true;
  auto expect = [&](bool cond, const char* what) {
    if (!cond) FAIL_CHECK(std::string(what));
    ok &= cond;
  };
  expect(x.kind == y.kind, "kind");
  expect(x.codes_signed == y.codes_signed && x.has_zero == y.has_zero && x.bits == y.bits, "code format");
  expect(x.grid == y.grid && x.group_size == y.group_size, "scale grid");
  expect(same_bytes(x.codes, y.codes), "codes");
  if (!same_bytes(x.codes, y.codes) && x.codes.size() == y.codes.size())
    for (size_t i = 0; i < x.codes.size(); ++i)
      if (x.codes[i] != y.codes[i]) {
        FAIL_CHECK("code [" << i << "]: interpreter " << int(x.codes[i]) << ", JIT " << int(y.codes[i]));
        break;
      }
  ok &= floats_within_ulp(x.values, y.values, "value");
  ok &= floats_within_ulp(x.scales, y.scales, "scale");
  ok &= floats_within_ulp(x.zeros, y.zeros, "zero point");
  expect(x.measures.size() == y.measures.size(), "measure count");
  for (size_t i = 0; ok && i < x.measures.size(); ++i) {
    double a = x.measures[i].second, b = y.measures[i].second;
    bool close = std::fabs(a - b) <= kMeasureTolerance * std::max(std::fabs(a), std::fabs(b));
    CHECK_MESSAGE(close, "measure " << x.measures[i].first << ": interpreter " << a << ", JIT " << b);
    ok &= close && x.measures[i].first == y.measures[i].first;
  }
  return ok;
}

bool identical(const Expected<kir::KernelOutput>& a, const Expected<kir::KernelOutput>& b) {
  if (!a.ok() || !b.ok()) {
    bool same = !a.ok() && !b.ok() && a.error().message == b.error().message;
    CHECK_MESSAGE(same, "results differ between thread counts");
    return same;
  }
  bool same = same_bytes(a->values, b->values) && same_bytes(a->codes, b->codes) && same_bytes(a->scales, b->scales) &&
              same_bytes(a->zeros, b->zeros) && a->measures.size() == b->measures.size();
  for (size_t i = 0; same && i < a->measures.size(); ++i)
    same = std::memcmp(&a->measures[i].second, &b->measures[i].second, sizeof(double)) == 0;
  CHECK_MESSAGE(same, "results differ between thread counts");
  return same;
}

bool run_both(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                     const kir::ParamValues& params) {
  auto reference = interp::run(kernel.kernel, input, params);
  auto one = test_jit().run(kernel, input, params, 1);
  auto two = test_jit().run(kernel, input, params, 2);
  bool agreed = agree(reference, one);
  return identical(one, two) && agreed;
}

}  // namespace kmr::test
