// Size arithmetic for tensors, checked because shapes come from untrusted headers.
#include "runtime/tensor_info.h"

#include <limits>

namespace kmr::runtime {

std::optional<std::int64_t> checked_numel(const std::vector<std::int64_t>& shape) {
  std::int64_t numel = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (__builtin_mul_overflow(numel, dim, &numel)) return std::nullopt;
  }
  return numel;
}

std::optional<std::uint64_t> checked_byte_size(DType dtype, const std::vector<std::int64_t>& shape) {
  std::optional<std::int64_t> numel = checked_numel(shape);
  if (!numel) return std::nullopt;
  std::uint64_t bits = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(*numel), static_cast<std::uint64_t>(dtype_bits(dtype)),
                             &bits)) {
    return std::nullopt;
  }
  if (bits % 8 != 0) return std::nullopt;
  return bits / 8;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace kmr::runtime
