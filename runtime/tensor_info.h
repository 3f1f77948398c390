// Where one tensor of a safetensors file lives, and overflow-checked size arithmetic for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace kmr::runtime {

/// One entry of a safetensors header, already validated by the reader.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // [] is a scalar (one element)
  std::uint64_t begin = 0;          // byte offsets relative to the start of the data section
  std::uint64_t end = 0;
};

/// The product of `shape` (1 for a scalar), or nullopt if a dimension is negative or the
/// product does not fit in an int64.
std::optional<std::int64_t> checked_numel(const std::vector<std::int64_t>& shape);

/// Bytes a tensor of `dtype` and `shape` occupies, or nullopt if the count overflows or
/// (for sub-byte dtypes) is not a whole number of bytes. Callers tell the two apart with
/// checked_numel.
std::optional<std::uint64_t> checked_byte_size(DType dtype, const std::vector<std::int64_t>& shape);

/// "[256, 784]": how error messages and tools print a shape.
std::string shape_string(const std::vector<std::int64_t>& shape);

}  // namespace kmr::runtime
