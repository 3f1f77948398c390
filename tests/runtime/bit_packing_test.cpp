// The int32 code packing against hand-computed words, its padding checks, and round trips.
#include "runtime/bit_packing.h"

#include <doctest/doctest.h>

#include <vector>

#include "runtime/little_endian.h"
#include "runtime/random.h"

namespace rt = kmr::runtime;

namespace {

std::vector<std::uint32_t> pack(const std::vector<std::int8_t>& codes, std::int64_t rows, std::int64_t cols, int bits) {
  const std::int64_t words = rt::packed_word_count(cols, bits);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(4 * rows * words));
  rt::pack_rows(codes.data(), rows, cols, bits, bytes.data());
  std::vector<std::uint32_t> out(static_cast<std::size_t>(rows * words));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = rt::load_le32(bytes.data() + 4 * i);
  return out;
}

std::vector<std::uint8_t> le_words(const std::vector<std::uint32_t>& words) {
  std::vector<std::uint8_t> bytes(words.size() * 4);
  for (std::size_t i = 0; i < words.size(); ++i) rt::store_le32(bytes.data() + 4 * i, words[i]);
  return bytes;
}

}  // namespace

TEST_SUITE("bit_packing") {
  TEST_CASE("codes per word and word counts follow floor(32 / bits)") {
    const int expected[] = {0, 32, 16, 10, 8, 6, 5, 4, 4};
    for (int bits = 1; bits <= 8; ++bits) CHECK(rt::codes_per_word(bits) == expected[bits]);
    CHECK(rt::packed_word_count(0, 4) == 0);
    CHECK(rt::packed_word_count(8, 4) == 1);
    CHECK(rt::packed_word_count(9, 4) == 2);
    CHECK(rt::packed_word_count(10, 3) == 1);
    CHECK(rt::packed_word_count(11, 3) == 2);
  }

  TEST_CASE("8-bit [1, 2] packs to 33409, the example of compressed-tensors' pack_to_int32") {
    CHECK(pack({1, 2}, 1, 2, 8) == std::vector<std::uint32_t>{33409});
  }

  TEST_CASE("4-bit codes go LSB first as code + 8, the row's last word padded with zero fields") {
    // Fields 0 7 8 15 9 10 11 12 | 13: nibbles read right to left in the hex words.
    const std::vector<std::int8_t> row = {-8, -1, 0, 7, 1, 2, 3, 4, 5};
    CHECK(pack(row, 1, 9, 4) == std::vector<std::uint32_t>{0xCBA9F870u, 0x0000000Du});
  }

  TEST_CASE("3-bit words hold ten codes and leave the top two bits zero") {
    const std::vector<std::int8_t> row(10, 3);  // field 7 = 0b111 ten times
    CHECK(pack(row, 1, 10, 3) == std::vector<std::uint32_t>{0x3FFFFFFFu});
  }

  TEST_CASE("rows pack independently: each starts a new word") {
    const std::vector<std::int8_t> codes = {1, 1, 1, -2, -2, -2};  // 2 rows x 3, 2-bit: fields 3 and 0
    CHECK(pack(codes, 2, 3, 2) == std::vector<std::uint32_t>{0x3Fu, 0x00u});
  }

  TEST_CASE("packing along columns puts consecutive rows of one column into a word") {
    // 5 rows x 2 cols of 4-bit values; column 0 = -8..-4 (fields 0..4), column 1 = 7 (field 15).
    const std::vector<std::int8_t> values = {-8, 7, -7, 7, -6, 7, -5, 7, -4, 7};
    std::vector<std::uint8_t> bytes(4 * 2);
    rt::pack_columns(values.data(), 5, 2, 4, bytes.data());
    CHECK(rt::load_le32(bytes.data()) == 0x00043210u);
    CHECK(rt::load_le32(bytes.data() + 4) == 0x000FFFFFu);
    std::vector<std::int8_t> back(values.size());
    CHECK(rt::unpack_columns(bytes.data(), 5, 2, 4, back.data()) == -1);
    CHECK(back == values);
  }

  TEST_CASE("unpacking reports the first word with a set padding field or unused bit") {
    std::vector<std::int8_t> out(9);
    CHECK(rt::unpack_rows(le_words({0xCBA9F870u, 0x0000000Du}).data(), 1, 9, 4, out.data()) == -1);
    CHECK(out == std::vector<std::int8_t>{-8, -1, 0, 7, 1, 2, 3, 4, 5});
    CHECK(rt::unpack_rows(le_words({0xCBA9F870u, 0x0000001Du}).data(), 1, 9, 4, out.data()) == 1);
    std::vector<std::int8_t> ten(10);
    CHECK(rt::unpack_rows(le_words({0x7FFFFFFFu}).data(), 1, 10, 3, ten.data()) == 0);
    std::vector<std::int8_t> column(5);
    CHECK(rt::unpack_columns(le_words({0x00143210u}).data(), 5, 1, 4, column.data()) == 0);
  }

  TEST_CASE("every bit width round-trips every code at every row length from 0 to 40") {
    rt::Rng rng(11);
    for (int bits = 2; bits <= 8; ++bits) {
      for (std::int64_t cols = 0; cols <= 40; ++cols) {
        INFO("bits " << bits << " cols " << cols);
        const std::int64_t rows = 3;
        std::vector<std::int8_t> codes(static_cast<std::size_t>(rows * cols));
        for (auto& c : codes)
          c = static_cast<std::int8_t>(-(1 << (bits - 1)) + static_cast<int>(rng.below(1u << bits)));
        const std::int64_t words = rt::packed_word_count(cols, bits);
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(4 * rows * words));
        rt::pack_rows(codes.data(), rows, cols, bits, bytes.data());
        std::vector<std::int8_t> back(codes.size());
        REQUIRE(rt::unpack_rows(bytes.data(), rows, cols, bits, back.data()) == -1);
        CHECK(back == codes);

        std::vector<std::uint8_t> by_column(static_cast<std::size_t>(4 * rt::packed_word_count(rows, bits) * cols));
        rt::pack_columns(codes.data(), rows, cols, bits, by_column.data());
        std::vector<std::int8_t> back_columns(codes.size());
        REQUIRE(rt::unpack_columns(by_column.data(), rows, cols, bits, back_columns.data()) == -1);
        CHECK(back_columns == codes);
      }
    }
  }
}
