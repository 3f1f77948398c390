// Opening and cross-checking the shards of a safetensors index.
#include "runtime/sharded_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/strict_json.h"

namespace kmr::runtime {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Indexes are small; anything bigger than this is not an index.
constexpr std::uintmax_t kMaxIndexBytes = 64u << 20;

kmr::Expected<std::string> read_small_file(const std::string& path) {
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) return kmr::Error{path + ": cannot read: " + ec.message()};
  if (size > kMaxIndexBytes) return kmr::Error{path + ": index is " + std::to_string(size) + " bytes, too large"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return kmr::Error{path + ": cannot open"};
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return kmr::Error{path + ": read error"};
  return text.str();
}

// Shard names come from an untrusted file: keep them inside the index's directory.
bool stays_inside(const std::string& shard) {
  fs::path p(shard);
  if (shard.empty() || p.is_absolute()) return false;
  for (const fs::path& part : p) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

kmr::Expected<ShardedCheckpoint> ShardedCheckpoint::open(const std::string& index_path) {
  kmr::Expected<std::string> text = read_small_file(index_path);
  if (!text) return text.error();
  kmr::Expected<Json> index = parse_json_strict(*text, index_path);
  // A tensor listed twice in weight_map shows up here as a duplicate key.
  if (!index) return index.error();
  if (!index->is_object()) return kmr::Error{index_path + ": index must be a JSON object"};
  auto map_it = index->find("weight_map");
  if (map_it == index->end() || !map_it->is_object()) {
    return kmr::Error{index_path + ": missing \"weight_map\" object"};
  }

  ShardedCheckpoint ckpt;
  ckpt.index_path_ = index_path;
  if (auto meta_it = index->find("metadata"); meta_it != index->end() && !meta_it->is_null()) {
    if (!meta_it->is_object()) return kmr::Error{index_path + ": \"metadata\" must be an object"};
    for (const auto& [key, value] : meta_it->items()) {
      ckpt.metadata_.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
    }
  }

  // 1. Group the map by shard, in order of first mention.
  std::vector<std::string> shard_names;
  std::map<std::string, std::size_t> shard_number;
  std::map<std::string, std::size_t> listed;  // tensor -> shard number
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return kmr::Error{index_path + ": weight_map entry for tensor '" + tensor + "' must be a file name"};
    }
    const std::string& name = shard.get_ref<const std::string&>();
    if (!stays_inside(name)) {
      return kmr::Error{index_path + ": shard path \"" + name + "\" for tensor '" + tensor +
                        "' must be relative and stay in the index's directory"};
    }
    auto [it, added] = shard_number.emplace(name, shard_names.size());
    if (added) shard_names.push_back(name);
    listed.emplace(tensor, it->second);
  }

  // 2. Open each shard and check its tensors against the map.
  const fs::path dir = fs::path(index_path).parent_path();
  for (std::size_t s = 0; s < shard_names.size(); ++s) {
    const std::string shard_path = (dir / shard_names[s]).string();
    kmr::Expected<SafetensorsFile> shard = SafetensorsFile::open(shard_path);
    if (!shard) {
      return kmr::Error{index_path + ": shard \"" + shard_names[s] + "\": " + shard.error().message};
    }
    for (const TensorInfo& t : shard->tensors()) {
      auto it = listed.find(t.name);
      if (it == listed.end()) {
        return kmr::Error{index_path + ": shard \"" + shard_names[s] + "\" holds tensor '" + t.name +
                          "' that weight_map does not list"};
      }
      if (it->second != s) {
        return kmr::Error{index_path + ": tensor '" + t.name + "' is listed twice: weight_map assigns it to \"" +
                          shard_names[it->second] + "\" but shard \"" + shard_names[s] + "\" also holds it"};
      }
      ckpt.index_.emplace(t.name, ckpt.tensors_.size());
      ckpt.tensors_.push_back(t);
      ckpt.shard_of_tensor_.push_back(s);
    }
    ckpt.shards_.push_back(std::move(*shard));
  }
  for (const auto& [tensor, s] : listed) {
    if (ckpt.index_.find(tensor) == ckpt.index_.end()) {
      return kmr::Error{index_path + ": tensor '" + tensor + "' is listed for shard \"" + shard_names[s] +
                        "\" but that shard does not hold it"};
    }
  }
  return ckpt;
}

const TensorInfo* ShardedCheckpoint::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsFile* ShardedCheckpoint::shard_of(const TensorInfo& tensor) const {
  auto it = index_.find(tensor.name);
  return it == index_.end() ? nullptr : &shards_[shard_of_tensor_[it->second]];
}

kmr::Expected<ByteView> ShardedCheckpoint::bytes(const TensorInfo& tensor) const {
  const SafetensorsFile* shard = shard_of(tensor);
  if (shard == nullptr) return kmr::Error{index_path_ + ": no tensor '" + tensor.name + "' in this checkpoint"};
  return shard->bytes(tensor);
}

kmr::Expected<std::vector<float>> ShardedCheckpoint::to_f32(const TensorInfo& tensor) const {
  const SafetensorsFile* shard = shard_of(tensor);
  if (shard == nullptr) return kmr::Error{index_path_ + ": no tensor '" + tensor.name + "' in this checkpoint"};
  return shard->to_f32(tensor);
}

}  // namespace kmr::runtime
