// Reading IDX files (the MNIST family's array format), plain or gzip-compressed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/expected.h"

namespace kmr::runtime {

/// The element type byte of an IDX header.
enum class IdxType : std::uint8_t { u8 = 0x08, i8 = 0x09, i16 = 0x0B, i32 = 0x0C, f32 = 0x0D, f64 = 0x0E };

/// Bytes per element of `type`.
int idx_type_size(IdxType type);

/// What an IDX header declares.
struct IdxHeader {
  IdxType type = IdxType::u8;
  std::vector<std::int64_t> dims;  // dims[0] counts items; the rest shape one item
  std::uint64_t header_bytes = 0;  // 4 + 4 × dims.size()
  std::uint64_t data_bytes = 0;    // product of dims × element size
  bool gzip = false;
};

/// Items read from an IDX file. Elements stay in the file's big-endian bytes (a training
/// set of u8 images would quadruple as floats); value() decodes one.
struct IdxArray {
  IdxHeader header;               // as declared by the file
  std::int64_t items = 0;         // items read (≤ header.dims[0])
  std::int64_t item_size = 0;     // elements per item
  std::vector<std::uint8_t> raw;  // items × item_size elements, row-major, as in the file

  std::size_t size() const { return static_cast<std::size_t>(items * item_size); }
  /// Element `i` (row-major over items × item_size). Precondition: i < size().
  double value(std::size_t i) const;
};

/// Reads and validates only the header: magic (two zero bytes, a known type byte, 1–8
/// dimensions) and that the size of the file matches: for a plain file its length, for a
/// gzip file the uncompressed size in the gzip trailer (mod 2^32, as gzip stores it).
/// Cheap: never decompresses more than the header.
kmr::Expected<IdxHeader> read_idx_header(const std::string& path);

/// Reads the first `max_items` items (all when negative), checking everything
/// read_idx_header checks; when reading all, also that the stream holds exactly the
/// declared bytes. Truncated or corrupt files fail with a message naming the file.
kmr::Expected<IdxArray> read_idx(const std::string& path, std::int64_t max_items = -1);

}  // namespace kmr::runtime
