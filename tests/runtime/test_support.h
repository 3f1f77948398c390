// Helpers shared by the runtime tests: scratch directories and byte-level file writing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dataset.h"

namespace kmr::runtime::testing {

/// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// path() + "/" + name
  std::string file(const std::string& name) const;
  /// Names of the entries in the directory, sorted.
  std::vector<std::string> entries() const;

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

/// A safetensors file's bytes: the 8-byte little-endian length of `header`, `header`, `data`.
std::string safetensors_bytes(const std::string& header, const std::string& data);

/// `n` bytes of a deterministic pattern (distinct, non-trivial values for round trips).
std::string pattern_bytes(std::size_t n, std::uint32_t seed);

/// `count` examples of `features` inputs uniform in [-1, 1) and labels uniform in
/// [0, classes), drawn from Rng(seed): small, reproducible training data.
Dataset random_dataset(std::int64_t count, std::int64_t features, std::int32_t classes, std::uint64_t seed);

/// Whether Debian's Fashion-MNIST (train and test) is installed; tests that need it skip otherwise.
bool data_present();

}  // namespace kmr::runtime::testing
