// Bit-exact conversions between f32 and the narrow float formats checkpoints store.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/dtype.h"

namespace kmr::runtime {

/// IEEE binary16 → f32, exact (every half value is a float); NaN payloads are kept.
float f16_to_f32(std::uint16_t bits);
/// bfloat16 → f32, exact.
float bf16_to_f32(std::uint16_t bits);
/// f32 → IEEE binary16, round to nearest even; overflow becomes ±inf, NaN stays NaN.
std::uint16_t f32_to_f16(float value);
/// f32 → bfloat16, round to nearest even; NaN stays (quiet) NaN.
std::uint16_t f32_to_bf16(float value);

/// One 8-bit float of `dtype` (one of the F8_* dtypes) → f32, exact.
/// Precondition: dtype is F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ or F8_E5M2FNUZ.
float f8_to_f32(DType dtype, std::uint8_t bits);

/// Decodes `count` little-endian elements of `dtype` from `src` into `out`.
/// Returns false (writing nothing) when dtype_converts_to_f32(dtype) is false.
/// Precondition: src holds count × dtype_bits(dtype) / 8 bytes; out holds count floats.
bool decode_to_f32(DType dtype, const std::uint8_t* src, std::size_t count, float* out);

}  // namespace kmr::runtime
