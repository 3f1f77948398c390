// An output file that appears at its path complete or not at all, never half-written.
#pragma once

#include <cstddef>
#include <string>

#include "support/expected.h"

namespace kmr::runtime {

/// Writes go to a temporary file in the target's directory; commit() flushes, fsyncs and
/// renames it over the target. Until then the target (if any) is untouched, and a failed
/// or abandoned file is removed. Where the kernel supports O_TMPFILE the temporary file has
/// no name until commit, so even a killed process leaves nothing behind.
class AtomicFile {
 public:
  /// Opens a temporary file next to `target`. Fails (naming the target) if the directory
  /// does not exist or is not writable, or if `target` is a directory. With
  /// `unnamed_if_possible` false the temporary gets a name from the start (the fallback
  /// path, which is otherwise taken only where O_TMPFILE is unsupported).
  static kmr::Expected<AtomicFile> create(const std::string& target, bool unnamed_if_possible = true);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Discards the temporary file unless commit() succeeded.
  ~AtomicFile();

  const std::string& target() const { return target_; }

  /// Appends `size` bytes. A failure (disk full, file too large) leaves the target untouched.
  kmr::Status write(const void* data, std::size_t size);

  /// Makes the written bytes durable and moves them to the target in one rename.
  /// Precondition: called at most once. On failure the temporary file is removed.
  kmr::Status commit();

 private:
  AtomicFile() = default;
  void discard();
  kmr::Status give_name();

  std::string target_;
  std::string dir_;
  std::string temp_path_;  // empty while the file is unnamed (O_TMPFILE)
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace kmr::runtime
