// Low-rank factor pairs: validation, their exact product, and their stored form.
#include "runtime/low_rank_tensor.h"

#include <cstring>

#include "runtime/quantized_tensor.h"
#include "runtime/tensor_info.h"

namespace kmr::runtime {
namespace {

kmr::Error tensor_error(const LowRankTensor& t, const std::string& what) {
  return kmr::Error{"tensor '" + t.name + "': " + what};
}

}  // namespace

std::string factor_name(const std::string& weight, char factor) {
  return module_of_weight(weight) + ".weight_" + factor + ".weight";
}

namespace {

// u and v are what forward passes and meters use, the quantized factors what is stored:
// they must be the same numbers.
kmr::Status validate_factor(const LowRankTensor& t, const QuantizedTensor& q, const std::vector<float>& values,
                            char factor, std::int64_t rows, std::int64_t cols) {
  if (q.name != factor_name(t.name, factor)) {
    return tensor_error(t, std::string("quantized factor ") + static_cast<char>(factor - 'a' + 'A') + " is named '" +
                               q.name + "', not '" + factor_name(t.name, factor) + "'");
  }
  if (q.shape != std::vector<std::int64_t>{rows, cols}) {
    return tensor_error(t, "quantized factor '" + q.name + "' is not " + std::to_string(rows) + " x " +
                               std::to_string(cols));
  }
  if (kmr::Status ok = validate(q); !ok) return ok;
  const std::vector<float> decoded = dequantize(q);
  if (decoded.size() != values.size() ||
      (!decoded.empty() && std::memcmp(decoded.data(), values.data(), decoded.size() * sizeof(float)) != 0)) {
    return tensor_error(t, std::string("factor ") + static_cast<char>(factor - 'a' + 'A') +
                               " does not hold the dequantized values of '" + q.name + "'");
  }
  return kmr::Status::success();
}

}  // namespace

kmr::Status validate(const LowRankTensor& t) {
  if (module_of_weight(t.name).empty()) {
    return tensor_error(t, "a compressed tensor must be named '<module>.weight'");
  }
  std::int64_t product = 0;
  if (t.rows < 0 || t.cols < 0 || t.rank < 0 || __builtin_mul_overflow(t.rows, t.cols, &product) ||
      __builtin_mul_overflow(t.rows, t.rank, &product) || __builtin_mul_overflow(t.rank, t.cols, &product)) {
    return tensor_error(t, "dimensions " + std::to_string(t.rows) + " x " + std::to_string(t.cols) + " of rank " +
                               std::to_string(t.rank) + " are invalid or overflow");
  }
  if (!is_value_dtype(t.dtype)) {
    return tensor_error(t, "original dtype " + std::string(dtype_name(t.dtype)) + " is not F32, F16, BF16 or F64");
  }
  if (static_cast<std::int64_t>(t.u.size()) != t.rows * t.rank) {
    return tensor_error(t, "factor U has " + std::to_string(t.u.size()) + " values, " + std::to_string(t.rows) + " x " +
                               std::to_string(t.rank) + " needs " + std::to_string(t.rows * t.rank));
  }
  if (static_cast<std::int64_t>(t.v.size()) != t.rank * t.cols) {
    return tensor_error(t, "factor V has " + std::to_string(t.v.size()) + " values, " + std::to_string(t.rank) + " x " +
                               std::to_string(t.cols) + " needs " + std::to_string(t.rank * t.cols));
  }
  if (t.u_quantized.has_value() != t.v_quantized.has_value()) {
    return tensor_error(t, "one factor is quantized and the other is not");
  }
  if (t.u_quantized) {
    if (kmr::Status ok = validate_factor(t, *t.u_quantized, t.u, 'u', t.rows, t.rank); !ok) return ok;
    if (kmr::Status ok = validate_factor(t, *t.v_quantized, t.v, 'v', t.rank, t.cols); !ok) return ok;
  }
  return kmr::Status::success();
}

std::vector<float> dequantize(const LowRankTensor& t) {
  std::vector<float> out(static_cast<std::size_t>(t.rows * t.cols), 0.0f);
  for (std::int64_t i = 0; i < t.rows; ++i) {
    float* row = out.data() + i * t.cols;
    // k outermost within a row: the same additions in the same order as the documented
    // formula, but reading V row by row.
    for (std::int64_t k = 0; k < t.rank; ++k) {
      const float a = t.u[i * t.rank + k];
      const float* vk = t.v.data() + k * t.cols;
      for (std::int64_t j = 0; j < t.cols; ++j) {
        const float product = a * vk[j];
        row[j] = row[j] + product;
      }
    }
  }
  return out;
}

std::uint64_t encoded_bytes(const LowRankTensor& t) {
  if (t.u_quantized) return encoded_bytes(*t.u_quantized) + encoded_bytes(*t.v_quantized);
  return 4 * static_cast<std::uint64_t>(t.rank) * static_cast<std::uint64_t>(t.rows + t.cols);
}

kmr::Expected<EncodedTensors> encode(const LowRankTensor& t) {
  if (kmr::Status ok = validate(t); !ok) return ok.error();
  const std::string p = module_of_weight(t.name);
  EncodedTensors out;
  if (t.u_quantized) {
    for (const QuantizedTensor* q : {&*t.u_quantized, &*t.v_quantized}) {
      kmr::Expected<EncodedTensors> factor = encode(*q);
      if (!factor) return factor.error();
      out.append(std::move(*factor));
    }
    return out;
  }
  out.add(p + ".weight_u", DType::F32, {t.rows, t.rank}, float_bytes(t.u, DType::F32));
  out.add(p + ".weight_v", DType::F32, {t.rank, t.cols}, float_bytes(t.v, DType::F32));
  return out;
}

}  // namespace kmr::runtime
