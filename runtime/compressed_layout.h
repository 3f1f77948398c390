// Reading a checkpoint through the compressed layout: its tensors grouped
// (compressed_grouping.h) and each group decoded, validated.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/compressed_grouping.h"
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
