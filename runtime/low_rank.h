// Low-rank factorisation of weights by truncated SVD, its cost, and MLPs with factored layers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <variant>
#include <vector>

#include "runtime/batched_forward.h"
#include "runtime/mlp.h"
#include "support/expected.h"

namespace kmr::runtime {

/// W (m x n) ~= A (m x r) * B (r x n), from the SVD W = U S Vᵀ truncated to the r largest
/// singular values. The singular values are split evenly: A = U_r sqrt(S_r) and
/// B = sqrt(S_r) V_rᵀ, so both factors have the same scale (which suits quantising them
/// afterwards) and A·B = U_r S_r V_rᵀ, the best rank-r approximation (Eckart–Young).
struct LowRankFactors {
  Matrix a;                         // [m, r]
  Matrix b;                         // [r, n]
  Eigen::VectorXd singular_values;  // all min(m, n) singular values of W, descending
};

/// The truncated SVD of `w`, computed in double with Eigen's BDCSVD and rounded to f32
/// factors. Deterministic: the same bits for the same input and Eigen thread count.
/// Fails unless 1 <= rank <= min(m, n) and every weight is finite.
kmr::Expected<LowRankFactors> truncated_svd(const Matrix& w, std::int64_t rank);

/// A * B, the dense matrix the factors stand for.
Matrix low_rank_product(const LowRankFactors& factors);

/// sqrt(sum of s_i^2 for i >= rank): by Eckart–Young, the Frobenius error of the best
/// rank-`rank` approximation of a matrix with these singular values (descending).
double truncation_error(const Eigen::VectorXd& singular_values, std::int64_t rank);

/// Parameters and operations per example of a linear layer y = x Wᵀ + b.
/// Counting rule: a multiply-add is 2 FLOPs, adding the bias 1 FLOP per output;
/// activations are not counted.
struct LayerCost {
  std::int64_t params = 0;
  std::int64_t flops = 0;
};

/// W [out, in] dense: params out*in + out, flops 2*out*in + out.
LayerCost dense_layer_cost(std::int64_t out, std::int64_t in);
/// W = A [out, r] * B [r, in], computed as (x Bᵀ) Aᵀ: params r*(out + in) + out,
/// flops 2*r*(out + in) + out.
LayerCost low_rank_layer_cost(std::int64_t out, std::int64_t in, std::int64_t rank);
/// The largest rank whose factors hold fewer weights than the dense matrix
/// (r*(out + in) < out*in); 0 when none does.
std::int64_t break_even_rank(std::int64_t out, std::int64_t in);

/// A layer stored as its factors: y = (x Bᵀ) Aᵀ + bias.
struct LowRankLayer {
  Matrix a;              // [out, r]
  Matrix b;              // [r, in]
  Eigen::VectorXf bias;  // [out]
};

/// An MLP where each layer is dense or factored; the activation is the same as in `Mlp`.
struct FactoredMlp {
  Activation act = Activation::relu;
  std::vector<std::variant<DenseLayer, LowRankLayer>> layers;

  /// Widths from input to output.
  MlpArch arch() const;
  /// Sum over layers of dense_layer_cost / low_rank_layer_cost.
  LayerCost cost() const;
};

/// Factors layer l of `model` to rank ranks[l] with truncated_svd; rank 0 keeps it dense.
/// Fails when ranks.size() differs from the layer count or a rank is out of range (the
/// message names the layer, fcN).
kmr::Expected<FactoredMlp> factor_mlp(const Mlp& model, const std::vector<std::int64_t>& ranks);

/// Logits [batch, out]: each factored layer computes (x Bᵀ) Aᵀ + b, never forming A·B.
/// Precondition: inputs.cols() equals the input width.
Matrix factored_mlp_forward(const FactoredMlp& model, const Matrix& inputs);

/// The dense model with W = A·B in place of each factored layer.
Mlp densify(const FactoredMlp& model);

/// The factored forward pass for evaluators. Refers to `model`: valid while it lives
/// unchanged. Precondition: the model has at least one layer.
ModelForward forward_of(const FactoredMlp& model);

}  // namespace kmr::runtime
