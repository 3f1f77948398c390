// A non-owning view of bytes, for tensor data that lives in a mapping or a caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kmr::runtime {

/// Bytes owned elsewhere; valid only while the owner (a mapped file, a vector) lives.
struct ByteView {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

}  // namespace kmr::runtime
