// A read-only memory mapping of a whole file, so large checkpoints cost no copies or heap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "support/expected.h"

namespace kmr::runtime {

/// Owns an open descriptor and a PROT_READ mapping of the file as it was when opened.
/// Pages are only touched when read, so opening a 1 GiB file costs no I/O.
class MappedFile {
 public:
  /// Maps `path`. Fails (naming the file) if it cannot be opened, is not a regular file,
  /// or cannot be mapped. An empty file is valid and maps nothing.
  static kmr::Expected<MappedFile> open(const std::string& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /// Fails if the file was truncated, extended or rewritten since it was mapped: reading a
  /// mapping past a truncated end raises SIGBUS, so callers check before touching data.
  kmr::Status check_unchanged() const;

 private:
  MappedFile() = default;
  void release();

  std::string path_;
  int fd_ = -1;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::int64_t mtime_ns_ = 0;
};

}  // namespace kmr::runtime
