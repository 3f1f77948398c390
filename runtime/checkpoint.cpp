// Dispatch between single-file and sharded checkpoints.
#include "runtime/checkpoint.h"

#include <utility>

namespace kmr::runtime {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

kmr::Expected<Checkpoint> Checkpoint::open(const std::string& path) {
  if (ends_with(path, ".json")) {
    kmr::Expected<ShardedCheckpoint> sharded = ShardedCheckpoint::open(path);
    if (!sharded) return sharded.error();
    std::map<std::string, std::string> metadata;
    if (!sharded->shards().empty()) metadata = sharded->shards().front().metadata();
    for (const auto& [key, value] : sharded->metadata()) metadata.emplace(key, value);
    return Checkpoint(path, Source(std::move(*sharded)), std::move(metadata));
  }
  kmr::Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file) return file.error();
  std::map<std::string, std::string> metadata = file->metadata();
  return Checkpoint(path, Source(std::move(*file)), std::move(metadata));
}

const std::vector<TensorInfo>& Checkpoint::tensors() const {
  return std::visit([](const auto& source) -> const std::vector<TensorInfo>& { return source.tensors(); }, source_);
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  return std::visit([name](const auto& source) { return source.find(name); }, source_);
}

kmr::Expected<ByteView> Checkpoint::bytes(const TensorInfo& tensor) const {
  return std::visit([&tensor](const auto& source) { return source.bytes(tensor); }, source_);
}

}  // namespace kmr::runtime
