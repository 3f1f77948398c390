// Read access to one safetensors file: validated header up front, tensor bytes on demand.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/byte_view.h"
#include "runtime/dtype.h"
#include "runtime/mapped_file.h"
#include "runtime/tensor_info.h"
#include "support/expected.h"

namespace kmr::runtime {

/// A memory-mapped safetensors file whose header has passed every check of the format.
/// Copies share one mapping; the mapping lives as long as the last copy.
class SafetensorsFile {
 public:
  /// Maps `path` and validates it: an 8-byte little-endian header length ≤ 100,000,000
  /// that fits in the file, a header that parse_safetensors_header accepts, and a data
  /// section ending exactly at the end of the file. Reads no tensor data.
  /// Every error message names the file and, where one is at fault, the tensor.
  static kmr::Expected<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  /// All tensors in file (data offset) order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;
  /// The `__metadata__` map (empty when the header has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Total file size and where the data section starts in it.
  std::uint64_t file_size() const { return file_->size(); }
  std::uint64_t data_start() const { return data_start_; }

  /// The raw little-endian bytes of `tensor`, a view into the mapping.
  /// Fails if `tensor` is not one of this file's tensors or the file changed on disk since
  /// it was opened (a truncated mapping would crash on access).
  kmr::Expected<ByteView> bytes(const TensorInfo& tensor) const;

  /// The tensor's elements as f32, row-major. Float dtypes only (F16, BF16, F32, F64 and
  /// the F8 family); other dtypes are refused with a message naming the file, tensor and dtype.
  kmr::Expected<std::vector<float>> to_f32(const TensorInfo& tensor) const;

 private:
  SafetensorsFile() = default;

  std::shared_ptr<const MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_start_ = 0;
};

}  // namespace kmr::runtime
