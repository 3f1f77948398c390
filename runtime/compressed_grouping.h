// Which stored tensors form one dense tensor of the compressed layout (p.weight_packed +
// p.weight_scale + p.weight_shape, ...), decided by their names alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/encoding.h"
#include "runtime/quantization_config.h"
#include "runtime/tensor_info.h"
#include "support/expected.h"

namespace kmr::runtime {

/// One tensor of the dense model and the stored tensors that hold it.
struct LogicalTensor {
  std::string name;  // the dense name: "<p>.weight" when compressed
  Encoding encoding = Encoding::Dense;
  /// The stored tensors, keyed by role: "" for a dense tensor; else the name's last
  /// component ("weight_packed", "weight_scale", "bitmask", ...).
  std::map<std::string, TensorInfo> parts;
  std::vector<std::int64_t> shape;    // the dense shape
  DType dtype = DType::F32;           // the dense dtype (stored dtype when Dense)
  std::optional<QuantScheme> scheme;  // the quantized encodings (is_quantized)
  /// LowRank with quantized factors: U then V, each the quantized group of its own module
  /// (p.weight_u, p.weight_v; low_rank_layout.h). Empty when the factors are the F32
  /// parts weight_u and weight_v.
  std::vector<LogicalTensor> factors;

  /// The part of this role, or nullptr.
  const TensorInfo* part(std::string_view role) const;
  /// Every stored tensor, the factors' included.
  std::vector<TensorInfo> stored_parts() const;
  /// Bytes of tensor data the stored parts occupy.
  std::uint64_t stored_bytes() const;
};

/// Groups stored tensors by name alone (no tensor data is read): a module p's
/// weight_packed (with p.bitmask: SparseQuantized, else PackQuantized), bitmask (with
/// p.compressed: SparseBitmask) or weight_u/weight_v start a group, and so does an I8
/// p.weight with a p.weight_scale; every other tensor is Dense. `config` supplies the quantization
/// scheme of each quantized module. Fails, naming the tensor, when a companion is missing
/// (p.weight_packed without p.weight_scale or p.weight_shape, p.compressed without
/// p.bitmask, an asymmetric scheme without p.weight_zero_point, an I8 p.weight the config
/// quantizes without p.weight_scale, ...), a companion has no group (p.weight_shape
/// without p.weight_packed, ...), two encodings claim one dense name, or a quantized
/// module has no usable scheme. Quantized groups of modules p.weight_u and p.weight_v
/// become the factors of one LowRank p.weight (pair_quantized_factors). Shapes and dtypes
/// of the result are not filled in. Sorted by dense name.
kmr::Expected<std::vector<LogicalTensor>> group_stored_tensors(const std::vector<TensorInfo>& tensors,
                                                               const std::optional<QuantizationConfig>& config,
                                                               const std::string& label);

}  // namespace kmr::runtime
