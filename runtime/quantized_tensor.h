// A weight quantized to 2-8-bit integer codes with f32 scales: what quantize kernels
// produce, and how it is stored in compressed-tensors' int-quantized and pack-quantized layouts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/encoded_tensors.h"
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

/// The dense values, row-major. Element (r, c) with scale unit u (0; r; or
/// r * groups_per_row + c / group_size) is
///     static_cast<float>(int32_t(code) - int32_t(zero_point[u])) * scales[u]
/// with zero_point 0 when symmetric: an exact integer difference, converted exactly to
/// f32, times the scale in one f32 multiply, so any engine that follows this formula
/// produces the same bits. Precondition: validate(q) succeeds.
std::vector<float> dequantize(const QuantizedTensor& q);

/// The stored tensors, with p = the name without ".weight":
///  bits == 8: p.weight I8 (the codes, shape as the dense tensor), p.weight_scale F32, and
///             when asymmetric p.weight_zero_point I8 (compressed-tensors "int-quantized");
///  bits  < 8: p.weight_packed I32 [rows, ceil(cols / (32 / bits))] (pack_rows),
///             p.weight_scale F32, p.weight_shape I64 [rank] (the dense shape), and when
///             asymmetric p.weight_zero_point: I32 packed along columns (pack_columns) for
///             Channel and Group, I8 [1] for Tensor ("pack-quantized").
/// Scale (and zero-point) tensor shapes: [1] for Tensor, [rows, 1] for Channel,
/// [rows, groups_per_row] for Group. Fails as validate does.
kmr::Expected<EncodedTensors> encode(const QuantizedTensor& q);

/// Bytes of tensor data encode(q) produces (no header), computed without encoding.
/// Precondition: validate(q) succeeds.
std::uint64_t encoded_bytes(const QuantizedTensor& q);

/// The module prefix of a "<module>.weight" name, or "" when `name` has no such form.
std::string module_of_weight(std::string_view name);

}  // namespace kmr::runtime
