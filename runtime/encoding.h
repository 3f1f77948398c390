// The encodings a dense tensor can be stored in (docs/format.md §2): shared by the writer,
// which picks one per tensor, and the reader, which recognises them by their stored names.
#pragma once

#include <string_view>

namespace kmr::runtime {

/// How a dense tensor is stored.
enum class Encoding {
  Dense,            // as itself
  IntQuantized,     // p.weight I8 + p.weight_scale (+ p.weight_zero_point)
  PackQuantized,    // p.weight_packed I32 + p.weight_scale + p.weight_shape (+ p.weight_zero_point)
  SparseQuantized,  // p.bitmask + p.weight_packed (stored codes only) + p.weight_scale + p.weight_shape (+ zero point)
  SparseBitmask,    // p.bitmask + p.compressed + p.row_offsets + p.shape
  LowRank,          // p.weight_u + p.weight_v
};

/// The compressed-tensors format name ("dense", "int-quantized", "pack-quantized",
/// "sparse-bitmask"), or ours: "sparse-quantized", "low-rank".
constexpr std::string_view encoding_name(Encoding encoding) {
  switch (encoding) {
    case Encoding::Dense:
      return "dense";
    case Encoding::IntQuantized:
      return "int-quantized";
    case Encoding::PackQuantized:
      return "pack-quantized";
    case Encoding::SparseQuantized:
      return "sparse-quantized";
    case Encoding::SparseBitmask:
      return "sparse-bitmask";
    case Encoding::LowRank:
      break;
  }
  return "low-rank";
}

/// Whether the encoding stores integer codes with scales (read_quantized reads it).
constexpr bool is_quantized(Encoding encoding) {
  return encoding == Encoding::IntQuantized || encoding == Encoding::PackQuantized ||
         encoding == Encoding::SparseQuantized;
}

}  // namespace kmr::runtime
