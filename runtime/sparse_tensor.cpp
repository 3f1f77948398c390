// Building, checking and storing bitmask-sparse tensors.
#include "runtime/sparse_tensor.h"

#include "runtime/quantized_tensor.h"
#include "runtime/tensor_info.h"

namespace kmr::runtime {
namespace {

kmr::Error tensor_error(const SparseTensor& s, const std::string& what) {
  return kmr::Error{"tensor '" + s.name + "': " + what};
}

}  // namespace

SparseTensor sparse_from_dense(std::string name, std::vector<std::int64_t> shape, DType dtype, const float* dense) {
  SparseTensor s;
  s.name = std::move(name);
  s.shape = std::move(shape);
  s.dtype = dtype;
  const MatrixDims dims = matrix_dims(s.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  s.bitmask.assign(static_cast<std::size_t>(dims.rows * row_bytes), 0);
  s.row_offsets.resize(static_cast<std::size_t>(dims.rows));
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    s.row_offsets[r] = static_cast<std::int64_t>(s.values.size());
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      const float v = round_through(dense[r * dims.cols + c], dtype);
      if (v != 0.0f) {
        bitmask_set(s.bitmask.data() + r * row_bytes, c);
        s.values.push_back(v);
      }
    }
  }
  return s;
}

kmr::Status validate(const SparseTensor& s) {
  if (module_of_weight(s.name).empty()) {
    return tensor_error(s, "a compressed tensor must be named '<module>.weight'");
  }
  if (!checked_numel(s.shape) || !checked_matrix_dims(s.shape)) {
    return tensor_error(s, "shape " + shape_string(s.shape) + " is invalid or overflows");
  }
  if (!is_value_dtype(s.dtype)) {
    return tensor_error(s, "value dtype " + std::string(dtype_name(s.dtype)) + " is not F32, F16, BF16 or F64");
  }
  const MatrixDims dims = matrix_dims(s.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  if (static_cast<std::int64_t>(s.bitmask.size()) != dims.rows * row_bytes) {
    return tensor_error(s, "bitmask has " + std::to_string(s.bitmask.size()) + " bytes, shape " +
                               shape_string(s.shape) + " needs " + std::to_string(dims.rows) + " x " +
                               std::to_string(row_bytes));
  }
  if (static_cast<std::int64_t>(s.row_offsets.size()) != dims.rows) {
    return tensor_error(
        s, "has " + std::to_string(s.row_offsets.size()) + " row offsets for " + std::to_string(dims.rows) + " rows");
  }
  if (std::int64_t r = bitmask_first_padded_row(s.bitmask.data(), dims.rows, dims.cols); r >= 0) {
    return tensor_error(
        s, "bitmask row " + std::to_string(r) + " sets padding bits past column " + std::to_string(dims.cols - 1));
  }
  std::int64_t count = 0;
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    if (s.row_offsets[r] != count) {
      return tensor_error(s, "row offset " + std::to_string(r) + " is " + std::to_string(s.row_offsets[r]) +
                                 ", but the bitmask's earlier rows set " + std::to_string(count) + " bits");
    }
    count += bitmask_count(s.bitmask.data() + r * row_bytes, static_cast<std::size_t>(row_bytes));
  }
  if (static_cast<std::int64_t>(s.values.size()) != count) {
    return tensor_error(s, "has " + std::to_string(s.values.size()) + " stored values but the bitmask sets " +
                               std::to_string(count) + " bits");
  }
  return kmr::Status::success();
}

std::vector<float> dequantize(const SparseTensor& s) {
  const MatrixDims dims = matrix_dims(s.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  std::vector<float> out(static_cast<std::size_t>(dims.rows * dims.cols), 0.0f);
  std::size_t next = 0;
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      if (bitmask_test(s.bitmask.data() + r * row_bytes, c)) out[r * dims.cols + c] = s.values[next++];
    }
  }
  return out;
}

std::uint64_t encoded_bytes(const SparseTensor& s) {
  return s.bitmask.size() + s.values.size() * static_cast<std::uint64_t>(dtype_bits(s.dtype) / 8) +
         8 * s.row_offsets.size() + 8 * s.shape.size();
}

kmr::Expected<EncodedTensors> encode(const SparseTensor& s) {
  if (kmr::Status ok = validate(s); !ok) return ok.error();
  const std::string p = module_of_weight(s.name);
  const MatrixDims dims = matrix_dims(s.shape);
  EncodedTensors out;
  out.add(p + ".bitmask", DType::U8, {dims.rows, bitmask_row_bytes(dims.cols)}, s.bitmask);
  out.add(p + ".compressed", s.dtype, {static_cast<std::int64_t>(s.values.size())}, float_bytes(s.values, s.dtype));
  out.add(p + ".row_offsets", DType::I64, {dims.rows}, i64_bytes(s.row_offsets));
  out.add(p + ".shape", DType::I64, {static_cast<std::int64_t>(s.shape.size())}, i64_bytes(s.shape));
  return out;
}

}  // namespace kmr::runtime
