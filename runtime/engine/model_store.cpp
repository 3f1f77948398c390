// Reading checkpoints into f32 tensors through the runtime's validating readers.
#include "runtime/engine/model_store.h"

#include "runtime/sharded_checkpoint.h"
#include "runtime/safetensors_reader.h"

namespace kmr::engine {
namespace {

template <class Checkpoint>
Expected<std::unique_ptr<StoredModel>> read_all(const Checkpoint& checkpoint, const std::string& path) {
  auto model = std::make_unique<StoredModel>();
  model->path = path;
  for (const auto& info : checkpoint.tensors()) {
    StoredTensor tensor{info.name, info.dtype, info.shape, {}, {}};
    if (runtime::dtype_converts_to_f32(info.dtype)) {
      auto values = checkpoint.to_f32(info);
      if (!values) return values.error();
      tensor.values = std::move(*values);
    } else {
      auto bytes = checkpoint.bytes(info);
      if (!bytes) return bytes.error();
      tensor.raw.assign(bytes->data, bytes->data + bytes->size);
    }
    model->tensors.push_back(std::move(tensor));
  }
  return model;
}

}  // namespace

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated by the reader: no overflow
  return n;
}

const StoredTensor* StoredModel::find(const std::string& name) const {
  for (const auto& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

Expected<const StoredModel*> ModelStore::load(const std::string& path) {
  if (auto it = models_.find(path); it != models_.end()) return it->second.get();
  Expected<std::unique_ptr<StoredModel>> model = Error{""};
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    auto checkpoint = runtime::ShardedCheckpoint::open(path);
    if (!checkpoint) return checkpoint.error();
    model = read_all(*checkpoint, path);
  } else {
    auto checkpoint = runtime::SafetensorsFile::open(path);
    if (!checkpoint) return checkpoint.error();
    model = read_all(*checkpoint, path);
  }
  if (!model) return model.error();
  const StoredModel* stored = model->get();
  models_.emplace(path, std::move(*model));
  return stored;
}

}  // namespace kmr::engine
