// The table behind dtype.h: one row per safetensors dtype.
#include "runtime/dtype.h"

#include <cstddef>

namespace kmr::runtime {
namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  int bits;
  bool to_f32;
};

// Sub-byte floats are refused by to_f32 because their packing within a byte is not fixed
// by the spec; decoding them would mean guessing.
constexpr DTypeRow kRows[] = {
    {DType::BOOL, "BOOL", 8, false},
    {DType::F4, "F4", 4, false},
    {DType::F6_E2M3, "F6_E2M3", 6, false},
    {DType::F6_E3M2, "F6_E3M2", 6, false},
    {DType::U8, "U8", 8, false},
    {DType::I8, "I8", 8, false},
    {DType::F8_E5M2, "F8_E5M2", 8, true},
    {DType::F8_E4M3, "F8_E4M3", 8, true},
    {DType::F8_E8M0, "F8_E8M0", 8, true},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8, true},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8, true},
    {DType::I16, "I16", 16, false},
    {DType::U16, "U16", 16, false},
    {DType::F16, "F16", 16, true},
    {DType::BF16, "BF16", 16, true},
    {DType::I32, "I32", 32, false},
    {DType::U32, "U32", 32, false},
    {DType::F32, "F32", 32, true},
    {DType::C64, "C64", 64, false},
    {DType::F64, "F64", 64, true},
    {DType::I64, "I64", 64, false},
    {DType::U64, "U64", 64, false},
};

static_assert(sizeof(kRows) / sizeof(kRows[0]) == sizeof(kAllDTypes) / sizeof(kAllDTypes[0]),
              "every DType needs a row");

constexpr bool rows_in_enum_order() {
  for (std::size_t i = 0; i < sizeof(kRows) / sizeof(kRows[0]); ++i) {
    if (static_cast<std::size_t>(kRows[i].dtype) != i || kAllDTypes[i] != kRows[i].dtype) return false;
  }
  return true;
}
static_assert(rows_in_enum_order(), "kRows and kAllDTypes must follow the enum order");

const DTypeRow& row(DType dtype) {
  // Rows are in enum order, so the enum value indexes the table.
  return kRows[static_cast<int>(dtype)];
}

}  // namespace

std::string_view dtype_name(DType dtype) { return row(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DTypeRow& r : kRows) {
    if (r.name == name) return r.dtype;
  }
  return std::nullopt;
}

int dtype_bits(DType dtype) { return row(dtype).bits; }

bool dtype_converts_to_f32(DType dtype) { return row(dtype).to_f32; }

}  // namespace kmr::runtime
