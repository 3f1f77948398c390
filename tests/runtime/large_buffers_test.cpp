// resize_large: storage that grows is fresh, zeroed and advised for huge pages; storage
// that already suffices (a caller's) is kept, contents and all.
#include "support/large_buffers.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

TEST_SUITE("large_buffers") {
  TEST_CASE("grown storage is fresh and zeroed, storage that suffices is kept") {
    std::vector<std::uint8_t> codes(100, 7);
    codes.reserve(1 << 20);
    const std::uint8_t* callers = codes.data();
    kmr::resize_large(codes, 1 << 20);  // fits the caller's capacity: the same storage
    CHECK(codes.data() == callers);
    CHECK(codes.size() == std::size_t{1} << 20);
    CHECK(codes[99] == 7);
    kmr::resize_large(codes, 10);
    CHECK(codes.data() == callers);
    std::vector<float> values(3, 1.5f);
    kmr::resize_large(values, std::size_t{3} << 20);  // 12 MB: reserved, advised, then zeroed
    REQUIRE(values.size() == std::size_t{3} << 20);
    CHECK(std::all_of(values.begin(), values.end(), [](float v) { return v == 0.0f; }));
    std::vector<double> empty;
    kmr::resize_large(empty, 0);
    CHECK(empty.empty());
  }
}
