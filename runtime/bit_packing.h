// Sub-byte integer codes packed LSB-first into little-endian 32-bit words: the layout of
// compressed-tensors' `pack_to_int32`, which vLLM's packed-weight kernels read.
#pragma once

#include <cstdint>

namespace kmr::runtime {

/// Codes of `bits` bits that one 32-bit word holds: floor(32 / bits), so 16, 10, 8, 6, 5, 4, 4
/// for 2..8 bits (3, 5, 6 and 7 bits leave the top 2, 2, 2 and 4 bits of a word unused).
/// Precondition: 1 <= bits <= 8.
int codes_per_word(int bits);

/// Words that `count` codes pack into: ceil(count / codes_per_word(bits)).
std::int64_t packed_word_count(std::int64_t count, int bits);

/// Packs a rows x cols row-major matrix of signed codes along its rows (compressed-tensors'
/// packed_dim 1) into rows x packed_word_count(cols, bits) words, written little-endian to
/// `out`. With k = codes_per_word(bits), code c of row r is stored as the unsigned field
/// code + 2^(bits-1) at bit (c mod k) * bits of word (r, c div k); fields past the end of a
/// row and the unused top bits are 0.
/// Precondition: every code lies in [-2^(bits-1), 2^(bits-1) - 1]; `out` holds 4 bytes per word.
void pack_rows(const std::int8_t* codes, std::int64_t rows, std::int64_t cols, int bits, std::uint8_t* out);

/// Packs along columns instead (packed_dim 0, how compressed-tensors packs zero points):
/// packed_word_count(rows, bits) x cols words, the value at (r, c) in word (r div k, c) at
/// bit (r mod k) * bits. Same preconditions as pack_rows.
void pack_columns(const std::int8_t* values, std::int64_t rows, std::int64_t cols, int bits, std::uint8_t* out);

/// The inverse of pack_rows: reads rows x packed_word_count(cols, bits) little-endian words
/// from `words` and writes rows x cols signed codes to `out`. Returns -1, or the index of
/// the first word (row-major) whose fields past the end of the row or unused top bits are
/// not zero; a writer that follows the layout never sets them.
std::int64_t unpack_rows(const std::uint8_t* words, std::int64_t rows, std::int64_t cols, int bits, std::int8_t* out);

/// The inverse of pack_columns, with the same contract as unpack_rows.
std::int64_t unpack_columns(const std::uint8_t* words, std::int64_t rows, std::int64_t cols, int bits,
                            std::int8_t* out);

}  // namespace kmr::runtime
