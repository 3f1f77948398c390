// Turning a compressed checkpoint back into a dense one (`kmrc decode`).
#pragma once

#include <string>

#include "runtime/compressed_layout.h"
#include "runtime/safetensors_writer.h"
#include "support/expected.h"

namespace kmr::runtime {

/// The dense tensors of `checkpoint`, written as one safetensors file at `out_path`
/// through write_safetensors (atomic). A compressed tensor is decoded to f32 (decode) and
/// stored in its original dtype: F32 as is, F64 widened exactly, F16 and BF16 rounded to
/// nearest even; a dense tensor is copied byte for byte. The metadata is the input's
/// without "quantization_config" and "kmr.dtypes", which describe the compressed layout
/// (and without an index's "total_size").
/// Fails, naming the file and tensor, on the first tensor that does not decode.
kmr::Status decompress_checkpoint(const CompressedCheckpoint& checkpoint, const std::string& out_path,
                                  const WriteOptions& options = {});

}  // namespace kmr::runtime
