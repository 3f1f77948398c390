// A pruned weight stored as its non-zeros plus a one-bit-per-element mask: compressed-tensors'
// "sparse-bitmask" layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/bitmask.h"
#include "runtime/dtype.h"
#include "runtime/encoded_tensors.h"
#include "support/expected.h"

namespace kmr::runtime {

/// A bitmask-sparse tensor in memory, seen as rows x cols (matrix_dims).
struct SparseTensor {
  std::string name;                 // the dense tensor's name, "<module>.weight"
  std::vector<std::int64_t> shape;  // the dense tensor's shape
  DType dtype = DType::F32;         // dtype of the stored non-zeros (and of the dense original)
  /// rows x ceil(cols / 8) bytes; bit (c mod 8) of byte (r, c div 8), least significant
  /// first (numpy.packbits(..., bitorder="little")), is set when element (r, c) is stored.
  /// Bits past the end of a row are 0.
  std::vector<std::uint8_t> bitmask;
  std::vector<float> values;              // the stored elements in row-major order
  std::vector<std::int64_t> row_offsets;  // rows entries: index in `values` of each row's first
};

/// Compresses a dense row-major tensor of `shape`: each element is first rounded to `dtype`
/// (so the in-memory values equal what the file will hold) and stored when the rounded value
/// compares unequal to 0 (so -0.0 is dropped and decodes as +0.0, and NaN is kept).
/// Preconditions: `dense` holds numel(shape) floats; is_value_dtype(dtype).
SparseTensor sparse_from_dense(std::string name, std::vector<std::int64_t> shape, DType dtype, const float* dense);

/// Checks a "<module>.weight" name, the shape, a value dtype, the mask's size and zero
/// padding bits, one value per set bit, and row_offsets equal to the running count of set
/// bits. Messages name the tensor.
kmr::Status validate(const SparseTensor& s);

/// The dense values: the stored values at set bits, in row-major order, and +0.0 elsewhere.
/// Precondition: validate(s) succeeds.
std::vector<float> dequantize(const SparseTensor& s);

/// With p = the name without ".weight": p.bitmask U8 [rows, ceil(cols / 8)],
/// p.compressed <dtype> [nnz] (values rounded to dtype), p.row_offsets I64 [rows],
/// p.shape I64 [rank] (the dense shape). Fails as validate does.
kmr::Expected<EncodedTensors> encode(const SparseTensor& s);

/// Bytes of tensor data encode(s) produces. Precondition: validate(s) succeeds.
std::uint64_t encoded_bytes(const SparseTensor& s);

}  // namespace kmr::runtime
