// IDX parsing over zlib's gz* API, which reads gzip and plain files alike.
#include "runtime/idx_reader.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kmr::runtime {
namespace {

constexpr int kMaxDims = 8;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::uint32_t load_be32(const unsigned char* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
}

bool known_type(std::uint8_t t) { return t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E; }

// Size on disk, whether it is gzip, and (for gzip) the trailer's ISIZE field.
struct RawFacts {
  std::uint64_t file_size = 0;
  bool gzip = false;
  std::uint32_t isize = 0;
};

kmr::Expected<RawFacts> raw_facts(const std::string& path) {
  // Only regular files: a FIFO or device would block or never end.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return kmr::Error{path + ": cannot open: " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return kmr::Error{path + ": not a regular file"};
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return kmr::Error{path + ": cannot open: " + std::strerror(errno)};
  RawFacts facts;
  unsigned char magic[2] = {0, 0};
  const std::size_t got = std::fread(magic, 1, 2, f.get());
  facts.gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return kmr::Error{path + ": cannot seek"};
  const long end = std::ftell(f.get());
  if (end < 0) return kmr::Error{path + ": cannot tell the file size"};
  facts.file_size = static_cast<std::uint64_t>(end);
  if (facts.gzip) {
    unsigned char trailer[4];
    if (facts.file_size < 18 || std::fseek(f.get(), -4, SEEK_END) != 0 || std::fread(trailer, 1, 4, f.get()) != 4) {
      return kmr::Error{path + ": gzip file is truncated"};
    }
    facts.isize = static_cast<std::uint32_t>(trailer[0]) | (static_cast<std::uint32_t>(trailer[1]) << 8) |
                  (static_cast<std::uint32_t>(trailer[2]) << 16) | (static_cast<std::uint32_t>(trailer[3]) << 24);
  }
  return facts;
}

// Reads exactly `size` bytes or explains why not.
kmr::Status read_exact(gzFile f, void* out, std::uint64_t size, const std::string& path, const char* what) {
  auto* p = static_cast<unsigned char*>(out);
  while (size > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::uint64_t>(size, 1u << 30));
    const int n = gzread(f, p, chunk);
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(f, &code);
      return kmr::Error{path + ": corrupt compressed data while reading the " + what + ": " + message};
    }
    if (n == 0) {
      int code = 0;
      const char* message = gzerror(f, &code);
      return kmr::Error{path + ": truncated: the " + std::string(what) + " ends early" +
                        (code != Z_OK ? std::string(" (") + message + ")" : std::string())};
    }
    p += n;
    size -= static_cast<std::uint64_t>(n);
  }
  return kmr::Status::success();
}

kmr::Expected<IdxHeader> parse_header(gzFile f, const std::string& path) {
  unsigned char magic[4];
  kmr::Status ok = read_exact(f, magic, 4, path, "header");
  if (!ok) return ok.error();
  if (magic[0] != 0 || magic[1] != 0) return kmr::Error{path + ": bad magic number: not an IDX file"};
  if (!known_type(magic[2])) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", magic[2]);
    return kmr::Error{path + ": unknown IDX element type " + hex};
  }
  if (magic[3] < 1 || magic[3] > kMaxDims) {
    return kmr::Error{path + ": IDX dimension count " + std::to_string(magic[3]) + " is not between 1 and " +
                      std::to_string(kMaxDims)};
  }
  IdxHeader header;
  header.type = static_cast<IdxType>(magic[2]);
  unsigned char dims[4 * kMaxDims];
  ok = read_exact(f, dims, 4u * magic[3], path, "header");
  if (!ok) return ok.error();
  std::uint64_t elements = 1;
  for (int i = 0; i < magic[3]; ++i) {
    const std::uint32_t d = load_be32(dims + 4 * i);
    header.dims.push_back(d);
    if (__builtin_mul_overflow(elements, static_cast<std::uint64_t>(d), &elements)) {
      return kmr::Error{path + ": IDX dimensions overflow"};
    }
  }
  if (__builtin_mul_overflow(elements, static_cast<std::uint64_t>(idx_type_size(header.type)), &header.data_bytes)) {
    return kmr::Error{path + ": IDX dimensions overflow"};
  }
  header.header_bytes = 4 + 4u * magic[3];
  return header;
}

kmr::Status check_size(const IdxHeader& header, const RawFacts& facts, const std::string& path) {
  const std::uint64_t expected = header.header_bytes + header.data_bytes;
  if (!facts.gzip && facts.file_size != expected) {
    return kmr::Error{path + ": file is " + std::to_string(facts.file_size) + " bytes but its IDX header declares " +
                      std::to_string(expected) + (facts.file_size < expected ? " (truncated)" : " (trailing bytes)")};
  }
  if (facts.gzip && facts.isize != static_cast<std::uint32_t>(expected)) {
    return kmr::Error{path + ": gzip trailer gives an uncompressed size of " + std::to_string(facts.isize) +
                      " bytes but the IDX header declares " + std::to_string(expected) + " (truncated or corrupt)"};
  }
  return kmr::Status::success();
}

double decode(IdxType type, const unsigned char* p) {
  switch (type) {
    case IdxType::u8:
      return p[0];
    case IdxType::i8:
      return static_cast<std::int8_t>(p[0]);
    case IdxType::i16:
      return static_cast<std::int16_t>(static_cast<std::uint16_t>((p[0] << 8) | p[1]));
    case IdxType::i32:
      return static_cast<std::int32_t>(load_be32(p));
    case IdxType::f32: {
      const std::uint32_t bits = load_be32(p);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      return f;
    }
    case IdxType::f64: {
      const std::uint64_t bits = (static_cast<std::uint64_t>(load_be32(p)) << 32) | load_be32(p + 4);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return d;
    }
  }
  return 0;
}

kmr::Expected<std::pair<GzHandle, IdxHeader>> open_idx(const std::string& path) {
  kmr::Expected<RawFacts> facts = raw_facts(path);
  if (!facts) return facts.error();
  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) return kmr::Error{path + ": cannot open: " + std::strerror(errno)};
  kmr::Expected<IdxHeader> header = parse_header(f.get(), path);
  if (!header) return header.error();
  header->gzip = facts->gzip;
  kmr::Status size_ok = check_size(*header, *facts, path);
  if (!size_ok) return size_ok.error();
  return std::make_pair(std::move(f), std::move(*header));
}

}  // namespace

int idx_type_size(IdxType type) {
  switch (type) {
    case IdxType::u8:
    case IdxType::i8:
      return 1;
    case IdxType::i16:
      return 2;
    case IdxType::i32:
    case IdxType::f32:
      return 4;
    case IdxType::f64:
      return 8;
  }
  return 1;
}

kmr::Expected<IdxHeader> read_idx_header(const std::string& path) {
  auto opened = open_idx(path);
  if (!opened) return opened.error();
  return opened->second;
}

double IdxArray::value(std::size_t i) const {
  return decode(header.type, raw.data() + i * static_cast<std::size_t>(idx_type_size(header.type)));
}

kmr::Expected<IdxArray> read_idx(const std::string& path, std::int64_t max_items) {
  auto opened = open_idx(path);
  if (!opened) return opened.error();
  gzFile f = opened->first.get();
  IdxArray array;
  array.header = opened->second;
  const std::int64_t declared = array.header.dims[0];
  array.items = max_items < 0 ? declared : std::min(max_items, declared);
  array.item_size = 1;
  for (std::size_t i = 1; i < array.header.dims.size(); ++i) array.item_size *= array.header.dims[i];
  // No overflow: the header check bounded the product of all dimensions.
  std::uint64_t wanted = static_cast<std::uint64_t>(array.items) * static_cast<std::uint64_t>(array.item_size) *
                         static_cast<std::uint64_t>(idx_type_size(array.header.type));

  // Grow in chunks so memory follows the data actually present, not the declared size.
  constexpr std::uint64_t kChunk = 16u << 20;
  while (wanted > 0) {
    const std::uint64_t n = std::min(wanted, kChunk);
    const std::size_t at = array.raw.size();
    array.raw.resize(at + n);
    kmr::Status ok = read_exact(f, array.raw.data() + at, n, path, "data");
    if (!ok) return ok.error();
    wanted -= n;
  }
  if (array.items == declared) {
    unsigned char extra;
    const int n = gzread(f, &extra, 1);
    if (n != 0) {
      int code = 0;
      const char* message = gzerror(f, &code);
      return kmr::Error{path + (n > 0 ? ": trailing bytes after the declared IDX data"
                                      : std::string(": corrupt compressed data at the end: ") + message)};
    }
  }
  return array;
}

}  // namespace kmr::runtime
