// The pristine weights of every model a script loads, read once and shared by all trials
// (trials materialise pipelines from these, never cumulatively).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "support/expected.h"

namespace kmr::engine {

struct StoredTensor {
  std::string name;
  runtime::DType dtype = runtime::DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> values;  // float dtypes, converted to f32
  std::vector<uint8_t> raw;   // other dtypes, kept as stored (they pass through rules untouched)
  bool is_float() const { return runtime::dtype_converts_to_f32(dtype); }
  int64_t numel() const;
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  int64_t cols() const { return rows() == 0 ? 0 : numel() / rows(); }
};

struct StoredModel {
  std::string path;
  std::vector<StoredTensor> tensors;  // in the checkpoint's order
  const StoredTensor* find(const std::string& name) const;
};

class ModelStore {
 public:
  /// The model at `path` (a .safetensors file or a sharded index .json), read on first use.
  Expected<const StoredModel*> load(const std::string& path);

 private:
  std::map<std::string, std::unique_ptr<StoredModel>> models_;
};

}  // namespace kmr::engine
