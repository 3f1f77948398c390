// Packing and unpacking of signed codes into 32-bit words, one field at a time.
#include "runtime/bit_packing.h"

#include "runtime/little_endian.h"

namespace kmr::runtime {
namespace {

std::uint32_t field_of(std::int8_t code, int bits) {
  return static_cast<std::uint32_t>(static_cast<int>(code) + (1 << (bits - 1)));
}

std::int8_t code_of(std::uint32_t field, int bits) {
  return static_cast<std::int8_t>(static_cast<int>(field) - (1 << (bits - 1)));
}

// Bits of a word above the last whole field; shifting a 32-bit value by 32 is undefined,
// hence the 64-bit shift.
bool unused_bits_clear(std::uint32_t word, int bits) {
  return (static_cast<std::uint64_t>(word) >> (codes_per_word(bits) * bits)) == 0;
}

}  // namespace

int codes_per_word(int bits) { return 32 / bits; }

std::int64_t packed_word_count(std::int64_t count, int bits) {
  const std::int64_t k = codes_per_word(bits);
  return count / k + (count % k != 0 ? 1 : 0);
}

void pack_rows(const std::int8_t* codes, std::int64_t rows, std::int64_t cols, int bits, std::uint8_t* out) {
  const int k = codes_per_word(bits);
  const std::int64_t words = packed_word_count(cols, bits);
  if (bits == 8) {
    // Four fields per little-endian word, in order: the words' bytes are the fields
    // (code + 128, the code's byte with its top bit flipped), the last word of a row
    // padded with zeros.
    for (std::int64_t r = 0; r < rows; ++r) {
      std::uint8_t* to = out + 4 * r * words;
      const std::int8_t* row = codes + r * cols;
      for (std::int64_t c = 0; c < cols; ++c) to[c] = static_cast<std::uint8_t>(field_of(row[c], 8));
      for (std::int64_t pad = cols; pad < 4 * words; ++pad) to[pad] = 0;
    }
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int8_t* row = codes + r * cols;
    for (std::int64_t w = 0; w < words; ++w) {
      std::uint32_t word = 0;
      const std::int64_t first = w * k;
      for (int j = 0; j < k && first + j < cols; ++j) word |= field_of(row[first + j], bits) << (j * bits);
      store_le32(out + 4 * (r * words + w), word);
    }
  }
}

void pack_columns(const std::int8_t* values, std::int64_t rows, std::int64_t cols, int bits, std::uint8_t* out) {
  const int k = codes_per_word(bits);
  const std::int64_t word_rows = packed_word_count(rows, bits);
  for (std::int64_t w = 0; w < word_rows; ++w) {
    for (std::int64_t c = 0; c < cols; ++c) {
      std::uint32_t word = 0;
      for (int j = 0; j < k && w * k + j < rows; ++j)
        word |= field_of(values[(w * k + j) * cols + c], bits) << (j * bits);
      store_le32(out + 4 * (w * cols + c), word);
    }
  }
}

std::int64_t unpack_rows(const std::uint8_t* words, std::int64_t rows, std::int64_t cols, int bits, std::int8_t* out) {
  const int k = codes_per_word(bits);
  const std::uint32_t mask = (1u << bits) - 1;
  const std::int64_t per_row = packed_word_count(cols, bits);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t w = 0; w < per_row; ++w) {
      const std::int64_t index = r * per_row + w;
      const std::uint32_t word = load_le32(words + 4 * index);
      if (!unused_bits_clear(word, bits)) return index;
      for (int j = 0; j < k; ++j) {
        const std::uint32_t field = (word >> (j * bits)) & mask;
        const std::int64_t c = w * k + j;
        if (c < cols) {
          out[r * cols + c] = code_of(field, bits);
        } else if (field != 0) {
          return index;
        }
      }
    }
  }
  return -1;
}

std::int64_t unpack_columns(const std::uint8_t* words, std::int64_t rows, std::int64_t cols, int bits,
                            std::int8_t* out) {
  const int k = codes_per_word(bits);
  const std::uint32_t mask = (1u << bits) - 1;
  const std::int64_t word_rows = packed_word_count(rows, bits);
  for (std::int64_t w = 0; w < word_rows; ++w) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t index = w * cols + c;
      const std::uint32_t word = load_le32(words + 4 * index);
      if (!unused_bits_clear(word, bits)) return index;
      for (int j = 0; j < k; ++j) {
        const std::uint32_t field = (word >> (j * bits)) & mask;
        const std::int64_t r = w * k + j;
        if (r < rows) {
          out[r * cols + c] = code_of(field, bits);
        } else if (field != 0) {
          return index;
        }
      }
    }
  }
  return -1;
}

}  // namespace kmr::runtime
