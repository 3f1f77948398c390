// A checkpoint as tools name it on the command line: one safetensors file or a sharded index.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/safetensors_reader.h"
#include "runtime/sharded_checkpoint.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Either a SafetensorsFile or a ShardedCheckpoint, behind the accessors both provide.
class Checkpoint {
 public:
  /// Opens `path` as a sharded index when it ends in ".json", else as one safetensors file,
  /// with every check those readers make.
  static kmr::Expected<Checkpoint> open(const std::string& path);

  /// The path given to open (the index for a sharded checkpoint).
  const std::string& path() const { return path_; }
  bool sharded() const { return std::holds_alternative<ShardedCheckpoint>(source_); }
  /// Every tensor: file order, or shard by shard for an index.
  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find(std::string_view name) const;
  /// The file's `__metadata__`. For an index: the first shard's `__metadata__` (every shard
  /// we write carries the same), with the index's own "metadata" entries added where a key
  /// is not already present.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The raw bytes of `tensor`, as SafetensorsFile::bytes.
  kmr::Expected<ByteView> bytes(const TensorInfo& tensor) const;

 private:
  using Source = std::variant<SafetensorsFile, ShardedCheckpoint>;
  Checkpoint(std::string path, Source source, std::map<std::string, std::string> metadata)
      : path_(std::move(path)), source_(std::move(source)), metadata_(std::move(metadata)) {}

  std::string path_;
  Source source_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace kmr::runtime
