// The values kernels run on and produce, shared by the interpreter and the JIT: a
// read-only rows x cols view of f32 weights, and a kernel's output and measures.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "compiler/kir/kir.h"

namespace kmr::kir {

/// An N-d tensor flattened after dimension 0: rows = dim 0, cols = the product of the
/// others (1 for a 1-d tensor). `data` holds rows * cols floats, row-major.
struct TensorView {
  std::string name;
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t size() const { return rows * cols; }
};

/// Where a quantized tensor's scales (and zero points) live: one for the tensor, one per
/// row, or one per group of `group_size` consecutive elements of a row (the last partial).
enum class ScaleGrid { Tensor, Row, Group };

struct KernelOutput {
  ResultKind kind = ResultKind::Tensor;
  std::vector<float> values;   // Tensor: rows * cols values
  // Quantized: one code per element (int8 when `codes_signed`, else uint8), and a scale
  // (and a zero point when `has_zero`) per unit of `grid`.
  std::vector<uint8_t> codes;
  bool codes_signed = true;
  ScaleGrid grid = ScaleGrid::Tensor;
  int64_t group_size = 0;      // effective size for ScaleGrid::Group
  std::vector<float> scales, zeros;
  bool has_zero = false;
  int bits = 0;
  std::vector<std::pair<std::string, double>> measures;  // in the kernel's order
};

/// The scalar parameter values a kernel runs with (one per Kernel::params entry).
using ParamValues = std::vector<double>;

/// The defaults recorded in the kernel's parameters.
ParamValues default_params(const Kernel& kernel);

/// Errors at run time name the kernel and the tensor: "kernel 'k' on tensor 't': what".
Error run_error(const Kernel& kernel, const TensorView& input, const std::string& what);

}  // namespace kmr::kir

namespace kmr::kir {

/// The value of a uniform node built from constants and parameters only (group sizes);
/// nullopt-like NaN when it reads something else.
double evaluate_static(const Node& node, const ParamValues& params);

/// The effective size of a group(g) for rows of `cols` elements: g must be a whole number
/// >= 0 and at most the row length; 0 means the whole row. Fails naming kernel and tensor.
Expected<int64_t> effective_group_size(const Kernel& kernel, const Node& size, const ParamValues& params,
                                       const TensorView& input);

/// Checks the parameter count and that every value is a number.
Status check_params(const Kernel& kernel, const ParamValues& params, const TensorView& input);

/// The bit width of a quantized result: a whole number in [2, 8].
Expected<int> checked_bits(const Kernel& kernel, double bits, const TensorView& input);

}  // namespace kmr::kir
