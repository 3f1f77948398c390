// A weight replaced by two low-rank factors W ~= U V, stored as the factors themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/encoded_tensors.h"
#include "runtime/quantized_tensor.h"
#include "support/expected.h"

namespace kmr::runtime {

/// W (rows x cols) = U (rows x rank) times V (rank x cols). compressed-tensors has no
/// low-rank format, so the factor names are ours (docs/format.md).
struct LowRankTensor {
  std::string name;  // the dense tensor's name, "<module>.weight"
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t rank = 0;
  DType dtype = DType::F32;  // the dense original's dtype: F32, F16, BF16 or F64
  std::vector<float> u;      // rows x rank, row-major
  std::vector<float> v;      // rank x cols, row-major
  /// Quantized factors (a quantize rule after lowrank), both or neither: what is stored,
  /// as the quantized modules p.weight_u and p.weight_v (named "p.weight_u.weight" and
  /// "p.weight_v.weight"); u and v then hold their dequantized values.
  std::optional<QuantizedTensor> u_quantized;
  std::optional<QuantizedTensor> v_quantized;
};

/// "p.weight_u.weight" and "p.weight_v.weight" for the weight "p.weight": the names of its
/// factors' quantized modules.
std::string factor_name(const std::string& weight, char factor);

/// Checks a "<module>.weight" name, non-negative dimensions whose products fit, a value
/// dtype, and factor sizes; quantized factors come in pairs, validate, are named
/// factor_name(), have the factors' shapes, and dequantize to exactly u and v. Messages
/// name the tensor.
kmr::Status validate(const LowRankTensor& t);

/// The dense rows x cols product, computed so that every engine gets the same bits:
///     w[i][j] = ((0.0f + u[i][0] * v[0][j]) + u[i][1] * v[1][j]) + ... + u[i][rank-1] * v[rank-1][j]
/// in f32, k ascending, each product rounded before its addition (no fused multiply-add;
/// the file is compiled with -ffp-contract=off). Rank 0 gives zeros.
/// Precondition: validate(t) succeeds.
std::vector<float> dequantize(const LowRankTensor& t);

/// With p = the name without ".weight": p.weight_u F32 [rows, rank] and
/// p.weight_v F32 [rank, cols]; quantized factors as encode(QuantizedTensor) of each
/// (p.weight_u.weight_packed, ...). Fails as validate does.
kmr::Expected<EncodedTensors> encode(const LowRankTensor& t);

/// Bytes of tensor data encode(t) produces: 4 x rank x (rows + cols) for F32 factors, the
/// two quantized factors' encoded_bytes otherwise.
std::uint64_t encoded_bytes(const LowRankTensor& t);

}  // namespace kmr::runtime
