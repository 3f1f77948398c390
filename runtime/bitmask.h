// One bit per element of a rows x cols matrix, each row padded to whole bytes: the mask of
// compressed-tensors' sparse-bitmask layout, which sparse-quantized reuses bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kmr::runtime {

/// Bytes per mask row: ceil(cols / 8).
std::int64_t bitmask_row_bytes(std::int64_t cols);

/// Bit (col mod 8), least significant first, of byte col / 8 of a mask row
/// (numpy.packbits(..., bitorder="little")).
inline bool bitmask_test(const std::uint8_t* row, std::int64_t col) { return ((row[col / 8] >> (col % 8)) & 1u) != 0; }
inline void bitmask_set(std::uint8_t* row, std::int64_t col) {
  row[col / 8] = static_cast<std::uint8_t>(row[col / 8] | (1u << (col % 8)));
}

/// Set bits in `size` bytes of mask.
std::int64_t bitmask_count(const std::uint8_t* bytes, std::size_t size);

/// The first row of a rows x bitmask_row_bytes(cols) mask that sets a bit past column
/// cols - 1, or -1. Writers leave those bits 0, so a reader rejects a mask that sets one.
std::int64_t bitmask_first_padded_row(const std::uint8_t* mask, std::int64_t rows, std::int64_t cols);

}  // namespace kmr::runtime
