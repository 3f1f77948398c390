// A checkpoint split over several safetensors files by a `model.safetensors.index.json`.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/safetensors_reader.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The shards of an index, opened and cross-checked so they read as one model.
class ShardedCheckpoint {
 public:
  /// Reads the index at `index_path` (a JSON object whose "weight_map" maps tensor names to
  /// shard file names relative to the index's directory; "metadata" is optional) and opens
  /// every shard it names. Fails, naming the index and the shard or tensor, when: the index
  /// is not valid JSON or lists a tensor twice; a shard path is absolute or leaves the
  /// directory; a shard is missing or invalid; a listed tensor is not in its shard; a shard
  /// holds a tensor the map does not assign to it; or two shards hold the same tensor.
  static kmr::Expected<ShardedCheckpoint> open(const std::string& index_path);

  const std::string& index_path() const { return index_path_; }
  /// Every tensor, shard by shard in the order of first mention, file order within a shard.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  /// The index's "metadata" object; non-string values (e.g. total_size) as compact JSON.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  /// The shard that holds a tensor of this name, or nullptr.
  const SafetensorsFile* shard_of(const TensorInfo& tensor) const;

  /// As SafetensorsFile::bytes and ::to_f32, on the shard that holds `tensor`.
  kmr::Expected<ByteView> bytes(const TensorInfo& tensor) const;
  kmr::Expected<std::vector<float>> to_f32(const TensorInfo& tensor) const;

 private:
  ShardedCheckpoint() = default;

  std::string index_path_;
  std::vector<SafetensorsFile> shards_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::size_t> shard_of_tensor_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace kmr::runtime
