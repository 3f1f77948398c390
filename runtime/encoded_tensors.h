// The stored tensors one compressed weight becomes, owning the bytes they point to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/safetensors_writer.h"

namespace kmr::runtime {

/// How the compressed layout (like the kernels) sees an N-d tensor: rows = dimension 0,
/// cols = the product of the other dimensions (1 for a 1-d tensor); a scalar is 1 x 1.
struct MatrixDims {
  std::int64_t rows = 1;
  std::int64_t cols = 1;
};

/// The rows x cols view of `shape`, or nullopt when a dimension is negative or the element
/// count (or, for a shape with a zero dimension, the product of the other ones) overflows.
std::optional<MatrixDims> checked_matrix_dims(const std::vector<std::int64_t>& shape);

/// Precondition: checked_matrix_dims(shape) succeeds.
MatrixDims matrix_dims(const std::vector<std::int64_t>& shape);

/// Tensors ready for write_safetensors, with the buffers their views point into.
/// Move-only: moving keeps every view valid (vector buffers move with their owner), a copy
/// would not.
class EncodedTensors {
 public:
  EncodedTensors() = default;
  EncodedTensors(EncodedTensors&&) = default;
  EncodedTensors& operator=(EncodedTensors&&) = default;
  EncodedTensors(const EncodedTensors&) = delete;
  EncodedTensors& operator=(const EncodedTensors&) = delete;

  const std::vector<TensorToWrite>& tensors() const { return tensors_; }
  /// Bytes of tensor data (no header): what the tensors occupy in the file.
  std::uint64_t data_bytes() const;

  /// Adds a tensor that owns `bytes`. Precondition: bytes.size() is the tensor's byte size.
  void add(std::string name, DType dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> bytes);
  /// Adds a tensor whose bytes the caller keeps alive (dense tensors passed through).
  void add_view(TensorToWrite tensor);
  /// Takes over `other`'s tensors and buffers.
  void append(EncodedTensors&& other);

 private:
  std::vector<TensorToWrite> tensors_;
  std::vector<std::vector<std::uint8_t>> storage_;
};

/// Little-endian bytes of integer tensors, for shape, offset and scale companions.
std::vector<std::uint8_t> i64_bytes(const std::vector<std::int64_t>& values);
std::vector<std::uint8_t> i8_bytes(const std::vector<std::int8_t>& values);

/// `values` converted to `dtype` (F32, F64 exactly; F16 and BF16 rounded to nearest even).
/// Precondition: is_value_dtype(dtype).
std::vector<std::uint8_t> float_bytes(const std::vector<float>& values, DType dtype);

/// The dtypes the layout stores float values and dense originals in: F32, F16, BF16, F64.
bool is_value_dtype(DType dtype);

/// `value` rounded to `dtype` and back: what a float reads as after a trip through the file.
/// Precondition: is_value_dtype(dtype).
float round_through(float value, DType dtype);

}  // namespace kmr::runtime
