// Dtype names and sizes, and the bit-exact narrow-float conversions.
#include "runtime/dtype.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "runtime/float_codec.h"

namespace rt = kmr::runtime;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

}  // namespace

TEST_SUITE("dtype") {
  TEST_CASE("every dtype name parses back to itself and names are unique") {
    std::set<std::string_view> names;
    for (rt::DType d : rt::kAllDTypes) {
      CHECK(rt::parse_dtype(rt::dtype_name(d)) == d);
      CHECK(names.insert(rt::dtype_name(d)).second);
    }
    CHECK(names.size() == 22);
    CHECK_FALSE(rt::parse_dtype("f32").has_value());  // case matters in the format
    CHECK_FALSE(rt::parse_dtype("F33").has_value());
    CHECK_FALSE(rt::parse_dtype("").has_value());
  }

  TEST_CASE("bits per element follow the format") {
    CHECK(rt::dtype_bits(rt::DType::BOOL) == 8);
    CHECK(rt::dtype_bits(rt::DType::F4) == 4);
    CHECK(rt::dtype_bits(rt::DType::F6_E2M3) == 6);
    CHECK(rt::dtype_bits(rt::DType::F8_E8M0) == 8);
    CHECK(rt::dtype_bits(rt::DType::BF16) == 16);
    CHECK(rt::dtype_bits(rt::DType::U32) == 32);
    CHECK(rt::dtype_bits(rt::DType::C64) == 64);
    CHECK(rt::dtype_bits(rt::DType::U64) == 64);
  }

  TEST_CASE("only real floats of at least a byte convert to f32") {
    for (rt::DType d : {rt::DType::F16, rt::DType::BF16, rt::DType::F32, rt::DType::F64, rt::DType::F8_E4M3,
                        rt::DType::F8_E5M2, rt::DType::F8_E8M0, rt::DType::F8_E4M3FNUZ, rt::DType::F8_E5M2FNUZ}) {
      CHECK(rt::dtype_converts_to_f32(d));
    }
    for (rt::DType d : {rt::DType::BOOL, rt::DType::I8, rt::DType::U8, rt::DType::I32, rt::DType::I64, rt::DType::C64,
                        rt::DType::F4, rt::DType::F6_E3M2}) {
      CHECK_FALSE(rt::dtype_converts_to_f32(d));
    }
  }

  TEST_CASE("f16 decodes known values exactly") {
    CHECK(rt::f16_to_f32(0x3c00) == 1.0f);
    CHECK(rt::f16_to_f32(0xc000) == -2.0f);
    CHECK(rt::f16_to_f32(0x7bff) == 65504.0f);
    CHECK(rt::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
    CHECK(rt::f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24));
    CHECK(rt::f16_to_f32(0x0400) == std::ldexp(1.0f, -14));
    CHECK(rt::f16_to_f32(0x7c00) == std::numeric_limits<float>::infinity());
    CHECK(std::isnan(rt::f16_to_f32(0x7e00)));
    CHECK(bits_of(rt::f16_to_f32(0x8000)) == 0x80000000u);
  }

  TEST_CASE("f16 and bf16 survive decode then encode for every bit pattern") {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
      const float f = rt::f16_to_f32(static_cast<std::uint16_t>(h));
      if (std::isnan(f)) {
        CHECK(std::isnan(rt::f16_to_f32(rt::f32_to_f16(f))));
        continue;
      }
      REQUIRE(rt::f32_to_f16(f) == h);
      REQUIRE(rt::f32_to_bf16(rt::bf16_to_f32(static_cast<std::uint16_t>(h))) == h);
    }
  }

  TEST_CASE("f32 to f16 and bf16 round to nearest even") {
    CHECK(rt::f32_to_f16(65519.0f) == 0x7bff);
    CHECK(rt::f32_to_f16(65520.0f) == 0x7c00);                          // halfway to the next binade rounds to inf
    CHECK(rt::f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);      // tie, even stays
    CHECK(rt::f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie, odd rounds up
    CHECK(rt::f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);             // tie to even zero
    CHECK(rt::f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(rt::f32_to_f16(-std::ldexp(3.0f, -25)) == 0x8002);        // 1.5 ulp ties to 2
    CHECK(rt::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);  // tie, even
    CHECK(rt::f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  }

  TEST_CASE("8-bit floats decode per their specification") {
    using rt::DType;
    CHECK(rt::f8_to_f32(DType::F8_E4M3, 0x38) == 1.0f);
    CHECK(rt::f8_to_f32(DType::F8_E4M3, 0x7e) == 448.0f);
    CHECK(rt::f8_to_f32(DType::F8_E4M3, 0x01) == std::ldexp(1.0f, -9));
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E4M3, 0x7f)));
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E4M3, 0xff)));
    CHECK(rt::f8_to_f32(DType::F8_E5M2, 0x3c) == 1.0f);
    CHECK(rt::f8_to_f32(DType::F8_E5M2, 0x7b) == 57344.0f);
    CHECK(rt::f8_to_f32(DType::F8_E5M2, 0x7c) == std::numeric_limits<float>::infinity());
    CHECK(rt::f8_to_f32(DType::F8_E5M2, 0xfc) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E5M2, 0x7d)));
    CHECK(rt::f8_to_f32(DType::F8_E4M3FNUZ, 0x40) == 1.0f);
    CHECK(rt::f8_to_f32(DType::F8_E4M3FNUZ, 0x7f) == 240.0f);
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E4M3FNUZ, 0x80)));
    CHECK(rt::f8_to_f32(DType::F8_E5M2FNUZ, 0x40) == 1.0f);
    CHECK(rt::f8_to_f32(DType::F8_E5M2FNUZ, 0x7f) == 57344.0f);
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E5M2FNUZ, 0x80)));
    CHECK(rt::f8_to_f32(DType::F8_E8M0, 127) == 1.0f);
    CHECK(rt::f8_to_f32(DType::F8_E8M0, 130) == 8.0f);
    CHECK(rt::f8_to_f32(DType::F8_E8M0, 0) == std::ldexp(1.0f, -127));
    CHECK(std::isnan(rt::f8_to_f32(DType::F8_E8M0, 0xff)));
  }

  TEST_CASE("decode_to_f32 reads little-endian and refuses non-float dtypes") {
    const std::uint8_t f16_bytes[] = {0x00, 0x3c, 0x00, 0xc0};
    float out[2] = {0, 0};
    REQUIRE(rt::decode_to_f32(rt::DType::F16, f16_bytes, 2, out));
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == -2.0f);
    const std::uint8_t f64_bytes[] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    REQUIRE(rt::decode_to_f32(rt::DType::F64, f64_bytes, 1, out));
    CHECK(out[0] == 1.0f);
    CHECK_FALSE(rt::decode_to_f32(rt::DType::I32, f16_bytes, 1, out));
  }
}
