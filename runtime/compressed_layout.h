// Reading a checkpoint through the compressed layout: which stored tensors form one dense
// tensor (p.weight_packed + p.weight_scale + p.weight_shape, ...), and decoding them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/encoding.h"
#include "runtime/low_rank_tensor.h"
#include "runtime/quantization_config.h"
#include "runtime/quantized_tensor.h"
#include "runtime/sparse_tensor.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Metadata keys of files we write (docs/format.md).
inline constexpr const char* kMetaFormat = "format";                           // "pt"
inline constexpr const char* kMetaQuantizationConfig = "quantization_config";  // JSON
inline constexpr const char* kMetaDtypes = "kmr.dtypes";                       // JSON: dense name -> original dtype
inline constexpr const char* kMetaVersion = "kmr.version";
inline constexpr const char* kMetaScriptHash = "kmr.script_hash";
inline constexpr const char* kMetaKnobs = "kmr.knobs";  // JSON: knob -> chosen value

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

/// A checkpoint read through the compressed layout.
class CompressedCheckpoint {
 public:
  /// Opens `path` (file or index) as Checkpoint::open does, parses `quantization_config`
  /// and `kmr.dtypes` from the metadata, groups the tensors, and reads each group's shape
  /// (p.weight_shape, p.shape: integer vectors of non-negative entries with an element
  /// count that fits) and dense dtype (kmr.dtypes, else the sparse values' dtype, else F32).
  static kmr::Expected<CompressedCheckpoint> open(const std::string& path);
  static kmr::Expected<CompressedCheckpoint> from(Checkpoint checkpoint);

  const Checkpoint& checkpoint() const { return checkpoint_; }
  const std::string& path() const { return checkpoint_.path(); }
  /// Every dense tensor, sorted by name.
  const std::vector<LogicalTensor>& tensors() const { return tensors_; }
  const LogicalTensor* find(std::string_view name) const;
  const std::optional<QuantizationConfig>& quantization_config() const { return config_; }

  /// The stored form of a quantized tensor, fully validated: the codes (unpacked, with
  /// padding bits checked; for SparseQuantized, scattered over the bitmask's set bits with
  /// the zero point elsewhere, the mask's padding bits clear, one packed code per set bit
  /// and none equal to its zero point), the scales as f32 (any float dtype), the zero
  /// points (packed I32 or plain integers), all of the shapes the scheme implies. Errors
  /// name the file and the stored tensor at fault.
  kmr::Expected<QuantizedTensor> read_quantized(const LogicalTensor& t) const;
  kmr::Expected<SparseTensor> read_sparse(const LogicalTensor& t) const;
  kmr::Expected<LowRankTensor> read_low_rank(const LogicalTensor& t) const;

  /// The dense values as f32: dequantize() of the stored form, or the dense tensor
  /// converted exactly (float dtypes only).
  kmr::Expected<std::vector<float>> decode(const LogicalTensor& t) const;

 private:
  explicit CompressedCheckpoint(Checkpoint checkpoint) : checkpoint_(std::move(checkpoint)) {}
  /// Reads t's dense shape (and a Dense tensor's dtype), its factors' first.
  kmr::Status fill_shape(LogicalTensor& t) const;

  Checkpoint checkpoint_;
  std::optional<QuantizationConfig> config_;
  std::vector<LogicalTensor> tensors_;
};

}  // namespace kmr::runtime
