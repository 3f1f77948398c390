// Counting and checking mask bits.
#include "runtime/bitmask.h"

namespace kmr::runtime {

std::int64_t bitmask_row_bytes(std::int64_t cols) { return cols / 8 + (cols % 8 != 0 ? 1 : 0); }

std::int64_t bitmask_count(const std::uint8_t* bytes, std::size_t size) {
  std::int64_t count = 0;
  for (std::size_t i = 0; i < size; ++i) count += __builtin_popcount(bytes[i]);
  return count;
}

std::int64_t bitmask_first_padded_row(const std::uint8_t* mask, std::int64_t rows, std::int64_t cols) {
  if (cols % 8 == 0) return -1;  // no padding bits
  const std::int64_t row_bytes = bitmask_row_bytes(cols);
  const auto padding = static_cast<std::uint8_t>(0xffu << (cols % 8));
  for (std::int64_t r = 0; r < rows; ++r) {
    if ((mask[r * row_bytes + row_bytes - 1] & padding) != 0) return r;
  }
  return -1;
}

}  // namespace kmr::runtime
