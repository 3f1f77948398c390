// Saving tensors as a safetensors file, deterministically and atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/byte_view.h"
#include "runtime/dtype.h"
#include "support/expected.h"

namespace kmr::runtime {

/// One tensor to save. `data` holds its little-endian bytes and must stay alive during the
/// call; its size must be exactly numel × dtype_bits / 8.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  ByteView data;
};

struct WriteOptions {
  /// Called after each chunk of data with the bytes written so far and the file's total.
  /// Returning a failure cancels the save: the error comes back from write_safetensors and
  /// the target is left as it was.
  std::function<kmr::Status(std::uint64_t written, std::uint64_t total)> on_progress;
};

/// The header exactly as write_safetensors writes it (without the 8-byte length): JSON with
/// `__metadata__` first (when non-empty), then the tensors sorted by name with data offsets
/// in that order, padded with spaces to a multiple of 8 bytes. The file will be
/// 8 + header.size() + the sum of the tensors' byte sizes. Fails (messages start with
/// `label`) on an empty, repeated or reserved name, a size that does not match the shape,
/// or text that is not valid UTF-8.
kmr::Expected<std::string> build_safetensors_header(const std::vector<TensorToWrite>& tensors,
                                                    const std::map<std::string, std::string>& metadata,
                                                    const std::string& label);

/// Writes a safetensors file at `path` through AtomicFile: the header above, then each
/// tensor's bytes. On any failure the error names the file, no temporary file remains and
/// an existing file at `path` is unchanged.
kmr::Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata, const WriteOptions& options = {});

}  // namespace kmr::runtime
