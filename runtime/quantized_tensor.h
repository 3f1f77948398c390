// A weight quantized to 2-8-bit integer codes with f32 scales: what quantize kernels
// produce, and how it is stored: compressed-tensors' int-quantized and pack-quantized
// layouts, or our sparse-quantized one when most codes equal their zero point (pruned).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/encoded_tensors.h"
#include "runtime/encoding.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Which elements share a scale (compressed-tensors' QuantizationStrategy): the whole
/// tensor, one row ("channel": an output channel of a linear layer), or `group_size`
/// consecutive elements of a row, the last group of a row holding what is left.
enum class QuantStrategy { Tensor, Channel, Group };

/// "tensor", "channel", "group": the spelling of quantization_config.
std::string_view strategy_name(QuantStrategy strategy);

/// A quantized tensor in memory. Elements are addressed as rows x cols (matrix_dims).
/// Codes and zero points use compressed-tensors' signed convention: both lie in
/// [-2^(bits-1), 2^(bits-1) - 1]. (A kernel that produces unsigned codes u in [0, 2^bits - 1]
/// with zero point z stores u - 2^(bits-1) and z - 2^(bits-1); the differences, and so the
/// decoded values, are unchanged.) Codes are int8, not int32, because every 2-8-bit code
/// fits and a 1 GiB f32 checkpoint then needs 256 MiB of codes rather than 1 GiB.
struct QuantizedTensor {
  std::string name;                 // the dense tensor's name, "<module>.weight"
  std::vector<std::int64_t> shape;  // the dense tensor's shape
  DType dtype = DType::F32;         // the dense original's dtype: F32, F16, BF16 or F64
  int bits = 8;                     // 2..8
  QuantStrategy strategy = QuantStrategy::Channel;
  std::int64_t group_size = 0;  // Group only: elements per group, >= 1
  bool symmetric = true;
  std::vector<std::int8_t> codes;  // numel codes, row-major
  /// One scale per unit: 1 (Tensor), rows (Channel) or rows x groups_per_row (Group,
  /// row-major: the groups of row 0, then of row 1, ...).
  std::vector<float> scales;
  std::vector<std::int8_t> zero_points;  // asymmetric: one per scale; symmetric: empty
};

/// Scale groups in one row: ceil(cols / group_size) for Group, else 1.
std::int64_t groups_per_row(const QuantizedTensor& q);
/// Scales the tensor needs: 1, rows, or rows x groups_per_row.
std::int64_t scale_count(const QuantizedTensor& q);

/// Checks everything encode and dequantize rely on: a "<module>.weight" name, a valid
/// shape whose element count matches the codes, bits in 2..8, a positive group size for
/// Group, scale and zero-point counts, and every code and zero point within the bit
/// width's range. Messages name the tensor ("tensor 'fc1.weight': ...").
kmr::Status validate(const QuantizedTensor& q);

/// Maps element (row, col) to its scale unit: 0 (Tensor), row (Channel) or
/// row * groups_per_row + col / group_size (Group). Built once per tensor, so loops over
/// elements do not recompute the grid. Precondition: validate(q) succeeds.
class ScaleUnits {
 public:
  explicit ScaleUnits(const QuantizedTensor& q)
      : strategy_(q.strategy), group_size_(q.group_size), groups_(groups_per_row(q)) {}
  std::int64_t operator()(std::int64_t row, std::int64_t col) const {
    switch (strategy_) {
      case QuantStrategy::Tensor:
        return 0;
      case QuantStrategy::Channel:
        return row;
      case QuantStrategy::Group:
        break;
    }
    return row * groups_ + col / group_size_;
  }
  /// The column after the last one sharing col's scale unit in a row of `cols`.
  std::int64_t run_end(std::int64_t col, std::int64_t cols) const {
    if (strategy_ != QuantStrategy::Group) return cols;
    return std::min(cols, (col / group_size_ + 1) * group_size_);
  }

 private:
  QuantStrategy strategy_;
  std::int64_t group_size_;
  std::int64_t groups_;
};

/// The dense values, row-major. Element (r, c) with scale unit u (ScaleUnits) is
///     static_cast<float>(int32_t(code) - int32_t(zero_point[u])) * scales[u]
/// with zero_point 0 when symmetric: an exact integer difference, converted exactly to
/// f32, times the scale in one f32 multiply, so any engine that follows this formula
/// produces the same bits. Precondition: validate(q) succeeds.
std::vector<float> dequantize(const QuantizedTensor& q);

/// Elements whose code differs from the zero point of their scale unit (0 when symmetric):
/// those the sparse-quantized form stores (the others decode to 0 x scale, what a pruned
/// weight quantises to). Precondition: validate(q) succeeds.
std::int64_t stored_code_count(const QuantizedTensor& q);

/// How encode(q) stores q: Encoding::SparseQuantized when its tensor data is strictly
/// smaller than the form that keeps every code, else Encoding::IntQuantized (8 bits) or
/// Encoding::PackQuantized (2-7 bits). Costs one pass over the codes (none when even an
/// all-zero-point tensor would not be smaller sparse). Precondition: validate(q) succeeds.
Encoding stored_encoding(const QuantizedTensor& q);

/// Elements whose dequantized value is not 0 (NaN counts as not 0), without decoding:
/// codes other than their unit's zero point times a finite non-zero scale (an integer of
/// magnitude at least 1 times it cannot round to 0), and every element of a unit whose
/// scale is not finite (0 × inf is NaN). Precondition: validate(q) succeeds.
std::int64_t nonzero_count(const QuantizedTensor& q);

/// The stored tensors, with p = the name without ".weight" (docs/format.md §3):
///  IntQuantized (bits == 8): p.weight I8 (the codes, shape as the dense tensor),
///             p.weight_scale F32, and when asymmetric p.weight_zero_point I8;
///  PackQuantized (bits < 8): p.weight_packed I32 [rows, ceil(cols / (32 / bits))]
///             (pack_rows), p.weight_scale F32, p.weight_shape I64 [rank] (the dense
///             shape), and when asymmetric p.weight_zero_point: I32 packed along columns
///             (pack_columns) for Channel and Group, I8 [1] for Tensor;
///  SparseQuantized (any bits): p.bitmask U8 [rows, ceil(cols / 8)] (bit set: the code
///             differs from its zero point), p.weight_packed I32 [ceil(n / (32 / bits))],
///             the n set elements' codes in row-major order packed as one row (pack_rows),
///             and p.weight_scale, p.weight_shape, p.weight_zero_point as PackQuantized.
/// The form is stored_encoding(q). Scale (and zero-point) tensor shapes: [1] for Tensor,
/// [rows, 1] for Channel, [rows, groups_per_row] for Group. Fails as validate does.
/// The 8-bit codes kept whole (IntQuantized) are copied into the result, or with
/// CodeStorage::View viewed in place: then q must outlive the result (a 1 GiB f32
/// checkpoint has 256 MiB of them).
enum class CodeStorage { Copy, View };
kmr::Expected<EncodedTensors> encode(const QuantizedTensor& q, CodeStorage codes = CodeStorage::Copy);

/// Bytes of tensor data encode(q) produces (no header), computed without encoding (one
/// pass counting stored codes, as stored_encoding). Precondition: validate(q) succeeds.
std::uint64_t encoded_bytes(const QuantizedTensor& q);

/// The inverse of the sparse-quantized form's code layout: sets q.codes to numel codes,
/// the next of `stored` at each set bit of `bitmask` (rows x bitmask_row_bytes(cols),
/// row-major) and the element's zero point elsewhere. Returns -1, or the index in `stored`
/// of the first code equal to its element's zero point, which a writer leaves out (the
/// codes are then unspecified). Preconditions: q's shape, scheme and zero points pass
/// validate (codes aside); stored.size() equals the mask's set bits, padding bits clear.
std::int64_t scatter_stored_codes(const std::uint8_t* bitmask, const std::vector<std::int8_t>& stored,
                                  QuantizedTensor& q);

/// The module prefix of a "<module>.weight" name, or "" when `name` has no such form.
std::string module_of_weight(std::string_view name);

}  // namespace kmr::runtime
