// The on-disk cache of compiled kernel objects, so that a second process compiles nothing.
#pragma once

#include <optional>
#include <string>

#include "support/expected.h"

namespace kmr::codegen {

/// $KMR_CACHE_DIR, else $XDG_CACHE_HOME/kmr, else $HOME/.cache/kmr ("" when none is set).
std::string default_cache_dir();

/// A directory of object files, one per key. Each file records its full key, its length
/// and a checksum, so a truncated, corrupted or foreign file is never loaded; files are
/// written to a temporary name and renamed, so readers never see half a file.
class DiskCache {
 public:
  explicit DiskCache(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  /// The file that holds `key`.
  std::string path_of(const std::string& key) const;
  /// The object stored for `key`, or nullopt when absent or invalid.
  std::optional<std::string> load(const std::string& key) const;
  /// Stores `object` for `key` (creating the directory). Failure leaves no file behind.
  Status store(const std::string& key, const std::string& object) const;

 private:
  std::string dir_;
};

/// FNV-1a over bytes: stable across runs and builds (unlike std::hash).
uint64_t stable_hash(const std::string& bytes, uint64_t seed = 0xcbf29ce484222325ULL);

}  // namespace kmr::codegen
