// Owned tensor buffers and the byte encodings of the layout's companion tensors.
#include "runtime/encoded_tensors.h"

#include <cstring>

#include "runtime/float_codec.h"
#include "runtime/little_endian.h"

namespace kmr::runtime {

std::optional<MatrixDims> checked_matrix_dims(const std::vector<std::int64_t>& shape) {
  MatrixDims dims;
  if (shape.empty()) return dims;
  if (shape[0] < 0) return std::nullopt;
  dims.rows = shape[0];
  for (std::size_t i = 1; i < shape.size(); ++i) {
    if (shape[i] < 0 || __builtin_mul_overflow(dims.cols, shape[i], &dims.cols)) return std::nullopt;
  }
  std::int64_t numel = 0;
  if (__builtin_mul_overflow(dims.rows, dims.cols, &numel)) return std::nullopt;
  return dims;
}

MatrixDims matrix_dims(const std::vector<std::int64_t>& shape) {
  MatrixDims dims;
  if (shape.empty()) return dims;
  dims.rows = shape[0];
  for (std::size_t i = 1; i < shape.size(); ++i) dims.cols *= shape[i];
  return dims;
}

std::uint64_t EncodedTensors::data_bytes() const {
  std::uint64_t total = 0;
  for (const TensorToWrite& t : tensors_) total += t.data.size;
  return total;
}

void EncodedTensors::add(std::string name, DType dtype, std::vector<std::int64_t> shape,
                         std::vector<std::uint8_t> bytes) {
  storage_.push_back(std::move(bytes));
  const std::vector<std::uint8_t>& owned = storage_.back();
  tensors_.push_back({std::move(name), dtype, std::move(shape), ByteView{owned.data(), owned.size()}});
}

void EncodedTensors::add_view(TensorToWrite tensor) { tensors_.push_back(std::move(tensor)); }

void EncodedTensors::append(EncodedTensors&& other) {
  for (auto& buffer : other.storage_) storage_.push_back(std::move(buffer));
  for (auto& tensor : other.tensors_) tensors_.push_back(std::move(tensor));
  other.storage_.clear();
  other.tensors_.clear();
}

std::vector<std::uint8_t> i64_bytes(const std::vector<std::int64_t>& values) {
  std::vector<std::uint8_t> out(values.size() * 8);
  for (std::size_t i = 0; i < values.size(); ++i) store_le64(out.data() + 8 * i, static_cast<std::uint64_t>(values[i]));
  return out;
}

std::vector<std::uint8_t> i8_bytes(const std::vector<std::int8_t>& values) {
  std::vector<std::uint8_t> out(values.size());
  if (!values.empty()) std::memcpy(out.data(), values.data(), values.size());
  return out;
}

bool is_value_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
}

std::vector<std::uint8_t> float_bytes(const std::vector<float>& values, DType dtype) {
  std::vector<std::uint8_t> out(values.size() * static_cast<std::size_t>(dtype_bits(dtype) / 8));
  std::uint8_t* p = out.data();
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (dtype == DType::F32) {  // the host's float bytes are already the file's
    if (!values.empty()) std::memcpy(p, values.data(), out.size());
    return out;
  }
#endif
  for (float v : values) {
    switch (dtype) {
      case DType::F16:
        store_le16(p, f32_to_f16(v));
        p += 2;
        break;
      case DType::BF16:
        store_le16(p, f32_to_bf16(v));
        p += 2;
        break;
      case DType::F64: {
        const double d = v;
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        store_le64(p, bits);
        p += 8;
        break;
      }
      default: {  // F32
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        store_le32(p, bits);
        p += 4;
        break;
      }
    }
  }
  return out;
}

float round_through(float value, DType dtype) {
  switch (dtype) {
    case DType::F16:
      return f16_to_f32(f32_to_f16(value));
    case DType::BF16:
      return bf16_to_f32(f32_to_bf16(value));
    default:  // F32 and F64 hold every float exactly
      return value;
  }
}

}  // namespace kmr::runtime
