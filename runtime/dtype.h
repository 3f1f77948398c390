// Element types of the safetensors format: names, sizes and which ones decode to f32.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kmr::runtime {

/// Every dtype the safetensors format defines (the reference Rust crate's `Dtype` enum).
/// The sub-byte types (F4, F6_*) are packed: a tensor of them occupies numel × bits / 8
/// bytes, which must be a whole number.
enum class DType {
  BOOL,
  F4,  // FP4 E2M1 (OCP microscaling)
  F6_E2M3,
  F6_E3M2,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,  // the "FN" variant: no infinities, one NaN pattern per sign
  F8_E8M0,  // power-of-two scale: 2^(e-127), 0xFF is NaN
  F8_E4M3FNUZ,
  F8_E5M2FNUZ,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  C64,  // complex: two F32 (real, imaginary)
  F64,
  I64,
  U64,
};

/// All dtypes in declaration order, for tests and tables that must cover each one.
inline constexpr DType kAllDTypes[] = {
    DType::BOOL,    DType::F4,      DType::F6_E2M3, DType::F6_E3M2,     DType::U8,          DType::I8,
    DType::F8_E5M2, DType::F8_E4M3, DType::F8_E8M0, DType::F8_E4M3FNUZ, DType::F8_E5M2FNUZ, DType::I16,
    DType::U16,     DType::F16,     DType::BF16,    DType::I32,         DType::U32,         DType::F32,
    DType::C64,     DType::F64,     DType::I64,     DType::U64,
};

/// The spelling used in safetensors headers, e.g. "BF16".
std::string_view dtype_name(DType dtype);

/// The dtype spelled exactly `name` (case-sensitive, as the format requires), or nullopt.
std::optional<DType> parse_dtype(std::string_view name);

/// Bits one element occupies in the file (4 for F4, 6 for F6_*, 64 for C64).
int dtype_bits(DType dtype);

/// True for the real floating-point dtypes that `to_f32` decodes (F16, BF16, F32, F64 and
/// the F8 family). Integers, BOOL, complex and packed sub-byte floats are refused.
bool dtype_converts_to_f32(DType dtype);

}  // namespace kmr::runtime
