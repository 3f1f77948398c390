// Narrow float formats by bit manipulation, so results never depend on the FPU rounding mode.
#include "runtime/float_codec.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace kmr::runtime {
namespace {

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint32_t to_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// Finite value of a sign/exponent/mantissa minifloat with IEEE-style subnormals; callers
// handle their format's NaN and infinity encodings first.
float minifloat_value(std::uint32_t bits, int exp_bits, int man_bits, int bias) {
  const std::uint32_t exp = (bits >> man_bits) & ((1u << exp_bits) - 1);
  const std::uint32_t man = bits & ((1u << man_bits) - 1);
  const bool negative = (bits >> (exp_bits + man_bits)) & 1u;
  const float magnitude =
      exp == 0 ? std::ldexp(static_cast<float>(man), 1 - bias - man_bits)
               : std::ldexp(static_cast<float>(man | (1u << man_bits)), static_cast<int>(exp) - bias - man_bits);
  return negative ? -magnitude : magnitude;
}

float decode_f8(DType dtype, std::uint8_t b) {
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (dtype) {
    case DType::F8_E5M2:  // IEEE-like: exponent 31 is inf/NaN
      if ((b & 0x7c) == 0x7c) return (b & 0x03) ? kNaN : ((b & 0x80) ? -kInf : kInf);
      return minifloat_value(b, 5, 2, 15);
    case DType::F8_E4M3:  // "FN": no inf, S.1111.111 is NaN
      if ((b & 0x7f) == 0x7f) return kNaN;
      return minifloat_value(b, 4, 3, 7);
    case DType::F8_E4M3FNUZ:  // no inf, no -0: 0x80 is the NaN
      if (b == 0x80) return kNaN;
      return minifloat_value(b, 4, 3, 8);
    case DType::F8_E5M2FNUZ:
      if (b == 0x80) return kNaN;
      return minifloat_value(b, 5, 2, 16);
    case DType::F8_E8M0:  // unsigned power of two
      if (b == 0xff) return kNaN;
      return std::ldexp(1.0f, static_cast<int>(b) - 127);
    default:
      return kNaN;
  }
}

using F8Table = std::array<float, 256>;

const F8Table& f8_table(DType dtype) {
  // One table per format, built once: decoding then costs a load per element.
  auto build = [](DType d) {
    F8Table t{};
    for (int i = 0; i < 256; ++i) t[i] = decode_f8(d, static_cast<std::uint8_t>(i));
    return t;
  };
  static const F8Table e5m2 = build(DType::F8_E5M2);
  static const F8Table e4m3 = build(DType::F8_E4M3);
  static const F8Table e8m0 = build(DType::F8_E8M0);
  static const F8Table e4m3fnuz = build(DType::F8_E4M3FNUZ);
  static const F8Table e5m2fnuz = build(DType::F8_E5M2FNUZ);
  switch (dtype) {
    case DType::F8_E5M2:
      return e5m2;
    case DType::F8_E4M3:
      return e4m3;
    case DType::F8_E8M0:
      return e8m0;
    case DType::F8_E4M3FNUZ:
      return e4m3fnuz;
    default:
      return e5m2fnuz;
  }
}

std::uint16_t load_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }

std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

std::uint64_t load_u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(load_u32(p)) | (static_cast<std::uint64_t>(load_u32(p + 4)) << 32);
}

}  // namespace

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return from_bits(sign | 0x7f800000u | (man << 13));
  if (exp != 0) return from_bits(sign | ((exp + 112) << 23) | (man << 13));
  if (man == 0) return from_bits(sign);
  // Subnormal half: shift the mantissa up until its leading one becomes the implicit bit.
  std::uint32_t shift = 0;
  while (!(man & 0x400u)) {
    man <<= 1;
    ++shift;
  }
  return from_bits(sign | ((113 - shift) << 23) | ((man & 0x3ffu) << 13));
}

float bf16_to_f32(std::uint16_t bits) { return from_bits(static_cast<std::uint32_t>(bits) << 16); }

std::uint16_t f32_to_f16(float value) {
  const std::uint32_t x = to_bits(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // ≥ 65520 rounds to infinity
  const std::uint32_t exp = abs >> 23;
  if (exp < 113) {  // below 2^-14: a half subnormal (or zero), in units of 2^-24
    if (exp == 0) return sign;
    const std::uint32_t man = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - exp;
    if (shift > 24) return sign;
    std::uint32_t q = man >> shift;
    const std::uint32_t rem = man & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<std::uint16_t>(sign | q);
  }
  std::uint32_t q = ((exp - 112) << 10) | ((abs & 0x7fffffu) >> 13);
  const std::uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;  // a carry may reach infinity: correct
  return static_cast<std::uint16_t>(sign | q);
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t x = to_bits(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>((x + rounding) >> 16);
}

float f8_to_f32(DType dtype, std::uint8_t bits) { return f8_table(dtype)[bits]; }

bool decode_to_f32(DType dtype, const std::uint8_t* src, std::size_t count, float* out) {
  switch (dtype) {
    case DType::F32:
      for (std::size_t i = 0; i < count; ++i) out[i] = from_bits(load_u32(src + 4 * i));
      return true;
    case DType::F64:
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint64_t bits = load_u64(src + 8 * i);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        out[i] = static_cast<float>(d);
      }
      return true;
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) out[i] = f16_to_f32(load_u16(src + 2 * i));
      return true;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) out[i] = bf16_to_f32(load_u16(src + 2 * i));
      return true;
    case DType::F8_E5M2:
    case DType::F8_E4M3:
    case DType::F8_E8M0:
    case DType::F8_E4M3FNUZ:
    case DType::F8_E5M2FNUZ: {
      const F8Table& table = f8_table(dtype);
      for (std::size_t i = 0; i < count; ++i) out[i] = table[src[i]];
      return true;
    }
    default:
      return false;
  }
}

}  // namespace kmr::runtime
