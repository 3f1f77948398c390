// Validation, dequantisation and the stored form of quantized tensors.
#include "runtime/quantized_tensor.h"

#include <cmath>

#include "runtime/bit_packing.h"
#include "runtime/bitmask.h"
#include "runtime/little_endian.h"
#include "runtime/tensor_info.h"

namespace kmr::runtime {
namespace {

constexpr std::string_view kWeightSuffix = ".weight";

kmr::Error tensor_error(const QuantizedTensor& q, const std::string& what) {
  return kmr::Error{"tensor '" + q.name + "': " + what};
}

std::vector<std::int64_t> scale_shape(const QuantizedTensor& q) {
  const MatrixDims dims = matrix_dims(q.shape);
  switch (q.strategy) {
    case QuantStrategy::Tensor:
      return {1};
    case QuantStrategy::Channel:
      return {dims.rows, 1};
    case QuantStrategy::Group:
      break;
  }
  return {dims.rows, groups_per_row(q)};
}

// The first code (or zero point) outside the signed range of `bits`, or -1.
std::int64_t first_out_of_range(const std::vector<std::int8_t>& values, int bits) {
  const int lo = -(1 << (bits - 1));
  const int hi = (1 << (bits - 1)) - 1;
  // The extremes first (a loop without an exit, which vectorizes); the search only on failure.
  std::int8_t least = 0, most = 0;
  for (std::int8_t v : values) {
    least = std::min(least, v);
    most = std::max(most, v);
  }
  if (least >= lo && most <= hi) return -1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < lo || values[i] > hi) return static_cast<std::int64_t>(i);
  }
  return -1;
}

std::string range_string(int bits) {
  return "[" + std::to_string(-(1 << (bits - 1))) + ", " + std::to_string((1 << (bits - 1)) - 1) + "]";
}

std::int8_t zero_point_of(const QuantizedTensor& q, std::int64_t unit) {
  return q.symmetric ? std::int8_t{0} : q.zero_points[unit];
}

// Calls fn(first, last, unit) for each run [first, last) of consecutive elements (flat,
// row-major indices) that share one scale unit: the loops over a run's elements have no
// per-element index arithmetic, so they vectorize (a 1 GiB checkpoint has 2^28 of them).
template <class F>
void for_each_scale_run(const QuantizedTensor& q, F fn) {
  const MatrixDims dims = matrix_dims(q.shape);
  const ScaleUnits units(q);
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols;) {
      const std::int64_t end = units.run_end(c, dims.cols);
      fn(r * dims.cols + c, r * dims.cols + end, units(r, c));
      c = end;
    }
  }
}

// Codes of [first, last) other than `zero`. Counted in 32 bits a block at a time: the
// vectorized loop then widens bytes to 32-bit lanes, not 64-bit ones (twice as fast).
std::int64_t count_differing(const std::int8_t* codes, std::int64_t first, std::int64_t last, std::int8_t zero) {
  constexpr std::int64_t kBlock = std::int64_t{1} << 30;
  std::int64_t count = 0;
  for (std::int64_t begin = first; begin < last; begin += kBlock) {
    const std::int64_t end = std::min(last, begin + kBlock);
    std::uint32_t differing = 0;
    for (std::int64_t i = begin; i < end; ++i) differing += codes[i] != zero;
    count += differing;
  }
  return count;
}

// Bytes of p.weight_scale, plus p.weight_zero_point when asymmetric: one I8 per scale when
// int-quantized (and always for Tensor), else packed along rows (pack_columns).
std::uint64_t scale_bytes(const QuantizedTensor& q, bool packed_zero_points) {
  const auto scales = static_cast<std::uint64_t>(scale_count(q));
  if (q.symmetric) return 4 * scales;
  if (!packed_zero_points || q.strategy == QuantStrategy::Tensor) return 5 * scales;
  const std::int64_t rows = matrix_dims(q.shape).rows;
  return 4 * scales + 4 * static_cast<std::uint64_t>(packed_word_count(rows, q.bits) * groups_per_row(q));
}

// pack_rows into a fresh buffer.
std::vector<std::uint8_t> packed_words(const std::int8_t* codes, std::int64_t rows, std::int64_t cols, int bits) {
  std::vector<std::uint8_t> words(static_cast<std::size_t>(4 * rows * packed_word_count(cols, bits)));
  pack_rows(codes, rows, cols, bits, words.data());
  return words;
}

// The sparse-quantized form's mask (into `mask`) and the codes of its set bits, row-major.
std::vector<std::int8_t> gather_stored_codes(const QuantizedTensor& q, std::vector<std::uint8_t>& mask) {
  const MatrixDims dims = matrix_dims(q.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  mask.assign(static_cast<std::size_t>(dims.rows * row_bytes), 0);
  // Without branches (a fifth of the codes may be zero points, in no pattern): every code
  // is written and the end advances past the kept ones; one spare slot for the last write.
  std::vector<std::int8_t> stored(static_cast<std::size_t>(stored_code_count(q)) + 1);
  std::int64_t next = 0;
  for_each_scale_run(q, [&](std::int64_t first, std::int64_t last, std::int64_t unit) {
    const std::int8_t zero = zero_point_of(q, unit);
    std::uint8_t* row_mask = mask.data() + (first / dims.cols) * row_bytes;
    const std::int64_t first_col = first % dims.cols;
    for (std::int64_t i = first; i < last; ++i) {
      const std::int8_t code = q.codes[i];
      const unsigned kept = code != zero;
      stored[next] = code;
      next += kept;
      const std::int64_t col = first_col + (i - first);
      row_mask[col / 8] = static_cast<std::uint8_t>(row_mask[col / 8] | (kept << (col % 8)));
    }
  });
  stored.resize(static_cast<std::size_t>(next));
  return stored;
}

struct StoredForm {
  Encoding encoding;
  std::uint64_t bytes;  // tensor data
};

// The form encode() writes and its size: sparse-quantized only when strictly smaller, so
// that a tensor with few zero-point codes keeps the layout vLLM loads.
StoredForm stored_form(const QuantizedTensor& q) {
  const MatrixDims dims = matrix_dims(q.shape);
  const std::uint64_t shape_bytes = 8 * q.shape.size();
  const StoredForm full =
      q.bits == 8 ? StoredForm{Encoding::IntQuantized, q.codes.size() + scale_bytes(q, false)}
                  : StoredForm{Encoding::PackQuantized,
                               4 * static_cast<std::uint64_t>(dims.rows * packed_word_count(dims.cols, q.bits)) +
                                   shape_bytes + scale_bytes(q, true)};
  // The sparse form only grows with the stored codes: when it loses even with none, the
  // count is not needed.
  const std::uint64_t sparse_without_codes =
      static_cast<std::uint64_t>(dims.rows * bitmask_row_bytes(dims.cols)) + shape_bytes + scale_bytes(q, true);
  if (sparse_without_codes >= full.bytes) return full;
  const std::uint64_t sparse =
      sparse_without_codes + 4 * static_cast<std::uint64_t>(packed_word_count(stored_code_count(q), q.bits));
  return sparse < full.bytes ? StoredForm{Encoding::SparseQuantized, sparse} : full;
}

}  // namespace

std::string_view strategy_name(QuantStrategy strategy) {
  switch (strategy) {
    case QuantStrategy::Tensor:
      return "tensor";
    case QuantStrategy::Channel:
      return "channel";
    case QuantStrategy::Group:
      break;
  }
  return "group";
}

std::string module_of_weight(std::string_view name) {
  if (name.size() <= kWeightSuffix.size() || name.substr(name.size() - kWeightSuffix.size()) != kWeightSuffix) {
    return "";
  }
  return std::string(name.substr(0, name.size() - kWeightSuffix.size()));
}

std::int64_t groups_per_row(const QuantizedTensor& q) {
  if (q.strategy != QuantStrategy::Group || q.group_size <= 0) return 1;
  const std::int64_t cols = matrix_dims(q.shape).cols;
  return cols / q.group_size + (cols % q.group_size != 0 ? 1 : 0);
}

std::int64_t scale_count(const QuantizedTensor& q) {
  switch (q.strategy) {
    case QuantStrategy::Tensor:
      return 1;
    case QuantStrategy::Channel:
      return matrix_dims(q.shape).rows;
    case QuantStrategy::Group:
      break;
  }
  return matrix_dims(q.shape).rows * groups_per_row(q);
}

kmr::Status validate(const QuantizedTensor& q) {
  if (module_of_weight(q.name).empty()) {
    return kmr::Error{"tensor '" + q.name + "': a compressed tensor must be named '<module>.weight'"};
  }
  std::optional<std::int64_t> numel = checked_numel(q.shape);
  if (!numel || !checked_matrix_dims(q.shape))
    return tensor_error(q, "shape " + shape_string(q.shape) + " is invalid or overflows");
  if (!is_value_dtype(q.dtype)) {
    return tensor_error(q, "original dtype " + std::string(dtype_name(q.dtype)) + " is not F32, F16, BF16 or F64");
  }
  if (q.bits < 2 || q.bits > 8) return tensor_error(q, "bit width " + std::to_string(q.bits) + " is outside 2..8");
  if (q.strategy == QuantStrategy::Group && q.group_size < 1) {
    return tensor_error(q, "group size " + std::to_string(q.group_size) + " must be at least 1");
  }
  if (static_cast<std::int64_t>(q.codes.size()) != *numel) {
    return tensor_error(q, "has " + std::to_string(q.codes.size()) + " codes for shape " + shape_string(q.shape) +
                               " (" + std::to_string(*numel) + " elements)");
  }
  const std::int64_t scales = scale_count(q);
  if (static_cast<std::int64_t>(q.scales.size()) != scales) {
    return tensor_error(q, "has " + std::to_string(q.scales.size()) + " scales, " +
                               std::string(strategy_name(q.strategy)) + " quantization of shape " +
                               shape_string(q.shape) + " needs " + std::to_string(scales));
  }
  const std::size_t zeros = q.symmetric ? 0 : q.scales.size();
  if (q.zero_points.size() != zeros) {
    return tensor_error(
        q, "has " + std::to_string(q.zero_points.size()) + " zero points, " +
               (q.symmetric ? "symmetric quantization has none"
                            : "asymmetric quantization needs one per scale (" + std::to_string(zeros) + ")"));
  }
  if (std::int64_t i = first_out_of_range(q.codes, q.bits); i >= 0) {
    return tensor_error(q, "code " + std::to_string(q.codes[i]) + " at element " + std::to_string(i) +
                               " is outside the " + std::to_string(q.bits) + "-bit range " + range_string(q.bits));
  }
  if (std::int64_t i = first_out_of_range(q.zero_points, q.bits); i >= 0) {
    return tensor_error(q, "zero point " + std::to_string(q.zero_points[i]) + " of scale " + std::to_string(i) +
                               " is outside the " + std::to_string(q.bits) + "-bit range " + range_string(q.bits));
  }
  return kmr::Status::success();
}

std::vector<float> dequantize(const QuantizedTensor& q) {
  std::vector<float> out(q.codes.size());
  for_each_scale_run(q, [&](std::int64_t first, std::int64_t last, std::int64_t unit) {
    const std::int32_t zero = zero_point_of(q, unit);
    const float scale = q.scales[unit];
    for (std::int64_t i = first; i < last; ++i)
      out[i] = static_cast<float>(static_cast<std::int32_t>(q.codes[i]) - zero) * scale;
  });
  return out;
}

std::int64_t stored_code_count(const QuantizedTensor& q) {
  std::int64_t count = 0;
  for_each_scale_run(q, [&](std::int64_t first, std::int64_t last, std::int64_t unit) {
    count += count_differing(q.codes.data(), first, last, zero_point_of(q, unit));
  });
  return count;
}

std::int64_t nonzero_count(const QuantizedTensor& q) {
  std::int64_t count = 0;
  for_each_scale_run(q, [&](std::int64_t first, std::int64_t last, std::int64_t unit) {
    const float scale = q.scales[unit];
    if (!std::isfinite(scale)) {
      count += last - first;
      return;
    }
    if (scale != 0.0f) count += count_differing(q.codes.data(), first, last, zero_point_of(q, unit));
  });
  return count;
}

Encoding stored_encoding(const QuantizedTensor& q) { return stored_form(q).encoding; }

std::uint64_t encoded_bytes(const QuantizedTensor& q) { return stored_form(q).bytes; }

std::int64_t scatter_stored_codes(const std::uint8_t* bitmask, const std::vector<std::int8_t>& stored,
                                  QuantizedTensor& q) {
  const MatrixDims dims = matrix_dims(q.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  const ScaleUnits units(q);
  q.codes.resize(static_cast<std::size_t>(dims.rows * dims.cols));
  std::size_t next = 0;
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      const std::int8_t zero = zero_point_of(q, units(r, c));
      std::int8_t code = zero;
      if (bitmask_test(bitmask + r * row_bytes, c)) {
        code = stored[next];
        if (code == zero) return static_cast<std::int64_t>(next);
        ++next;
      }
      q.codes[r * dims.cols + c] = code;
    }
  }
  return -1;
}

kmr::Expected<EncodedTensors> encode(const QuantizedTensor& q, CodeStorage codes) {
  if (kmr::Status ok = validate(q); !ok) return ok.error();
  const std::string p = module_of_weight(q.name);
  const MatrixDims dims = matrix_dims(q.shape);
  const std::vector<std::int64_t> scales_shape = scale_shape(q);
  const Encoding encoding = stored_encoding(q);
  EncodedTensors out;
  if (encoding == Encoding::IntQuantized) {
    if (codes == CodeStorage::View)
      out.add_view({p + ".weight", DType::I8, q.shape,
                    ByteView{reinterpret_cast<const std::uint8_t*>(q.codes.data()), q.codes.size()}});
    else
      out.add(p + ".weight", DType::I8, q.shape, i8_bytes(q.codes));
  } else if (encoding == Encoding::PackQuantized) {
    out.add(p + ".weight_packed", DType::I32, {dims.rows, packed_word_count(dims.cols, q.bits)},
            packed_words(q.codes.data(), dims.rows, dims.cols, q.bits));
  } else {
    std::vector<std::uint8_t> mask;
    const std::vector<std::int8_t> stored = gather_stored_codes(q, mask);
    const auto n = static_cast<std::int64_t>(stored.size());
    out.add(p + ".bitmask", DType::U8, {dims.rows, bitmask_row_bytes(dims.cols)}, std::move(mask));
    // One flat run of words: rows do not start new words.
    out.add(p + ".weight_packed", DType::I32, {packed_word_count(n, q.bits)},
            packed_words(stored.data(), 1, n, q.bits));
  }
  if (encoding != Encoding::IntQuantized) {
    out.add(p + ".weight_shape", DType::I64, {static_cast<std::int64_t>(q.shape.size())}, i64_bytes(q.shape));
  }
  out.add(p + ".weight_scale", DType::F32, scales_shape, float_bytes(q.scales, DType::F32));
  if (!q.symmetric) {
    if (encoding == Encoding::IntQuantized || q.strategy == QuantStrategy::Tensor) {
      out.add(p + ".weight_zero_point", DType::I8, scales_shape, i8_bytes(q.zero_points));
    } else {
      const std::int64_t cols = scales_shape[1];
      const std::int64_t word_rows = packed_word_count(dims.rows, q.bits);
      std::vector<std::uint8_t> packed(static_cast<std::size_t>(4 * word_rows * cols));
      pack_columns(q.zero_points.data(), dims.rows, cols, q.bits, packed.data());
      out.add(p + ".weight_zero_point", DType::I32, {word_rows, cols}, std::move(packed));
    }
  }
  return out;
}

}  // namespace kmr::runtime
