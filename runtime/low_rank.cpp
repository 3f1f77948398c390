// Truncated SVD through Eigen's BDCSVD in double, and the factored forward pass.
#include "runtime/low_rank.h"

#include <Eigen/SVD>
#include <cmath>
#include <string>

namespace kmr::runtime {
namespace {

// One layer's x Wᵀ + b, for either storage.
Matrix linear(const DenseLayer& layer, const Matrix& x) {
  Matrix z = x * layer.weight.transpose();
  z.rowwise() += layer.bias.transpose();
  return z;
}

Matrix linear(const LowRankLayer& layer, const Matrix& x) {
  // Two thin products, r*(in + out) multiply-adds per example instead of in*out.
  const Matrix t = x * layer.b.transpose();
  Matrix z = t * layer.a.transpose();
  z.rowwise() += layer.bias.transpose();
  return z;
}

Matrix linear(const std::variant<DenseLayer, LowRankLayer>& layer, const Matrix& x) {
  return std::visit([&](const auto& l) { return linear(l, x); }, layer);
}

std::int64_t layer_in(const std::variant<DenseLayer, LowRankLayer>& layer) {
  if (const auto* d = std::get_if<DenseLayer>(&layer)) return d->weight.cols();
  return std::get<LowRankLayer>(layer).b.cols();
}

std::int64_t layer_out(const std::variant<DenseLayer, LowRankLayer>& layer) {
  return std::visit([](const auto& l) { return static_cast<std::int64_t>(l.bias.size()); }, layer);
}

}  // namespace

kmr::Expected<LowRankFactors> truncated_svd(const Matrix& w, std::int64_t rank) {
  const std::int64_t m = w.rows();
  const std::int64_t n = w.cols();
  const std::int64_t full = std::min(m, n);
  if (rank < 1 || rank > full) {
    return kmr::Error{"rank " + std::to_string(rank) + " is outside [1, " + std::to_string(full) + "] for a " +
                      std::to_string(m) + " x " + std::to_string(n) + " matrix"};
  }
  if (!w.allFinite()) return kmr::Error{"the matrix has a non-finite value: its SVD is undefined"};

  // Double precision: f32 SVD loses about 1e-4 of relative accuracy on small singular
  // values, more than the full-rank round trip allows.
  const Eigen::MatrixXd wd = w.cast<double>();
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(wd, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd root = svd.singularValues().head(rank).cwiseSqrt();

  LowRankFactors f;
  f.singular_values = svd.singularValues();
  f.a = (svd.matrixU().leftCols(rank) * root.asDiagonal()).cast<float>();
  f.b = (root.asDiagonal() * svd.matrixV().leftCols(rank).transpose()).cast<float>();
  return f;
}

Matrix low_rank_product(const LowRankFactors& factors) { return factors.a * factors.b; }

double truncation_error(const Eigen::VectorXd& singular_values, std::int64_t rank) {
  double sum = 0.0;
  for (Eigen::Index i = std::max<std::int64_t>(rank, 0); i < singular_values.size(); ++i) {
    sum += singular_values[i] * singular_values[i];
  }
  return std::sqrt(sum);
}

LayerCost dense_layer_cost(std::int64_t out, std::int64_t in) { return {out * in + out, 2 * out * in + out}; }

LayerCost low_rank_layer_cost(std::int64_t out, std::int64_t in, std::int64_t rank) {
  return {rank * (out + in) + out, 2 * rank * (out + in) + out};
}

std::int64_t break_even_rank(std::int64_t out, std::int64_t in) {
  if (out <= 0 || in <= 0) return 0;
  // r*(out + in) < out*in  <=>  r <= (out*in - 1) / (out + in)
  return (out * in - 1) / (out + in);
}

MlpArch FactoredMlp::arch() const {
  MlpArch a;
  a.act = act;
  if (layers.empty()) return a;
  a.widths.push_back(layer_in(layers.front()));
  for (const auto& layer : layers) a.widths.push_back(layer_out(layer));
  return a;
}

LayerCost FactoredMlp::cost() const {
  LayerCost total;
  for (const auto& layer : layers) {
    LayerCost c;
    if (const auto* d = std::get_if<DenseLayer>(&layer)) {
      c = dense_layer_cost(d->weight.rows(), d->weight.cols());
    } else {
      const LowRankLayer& f = std::get<LowRankLayer>(layer);
      c = low_rank_layer_cost(f.a.rows(), f.b.cols(), f.a.cols());
    }
    total.params += c.params;
    total.flops += c.flops;
  }
  return total;
}

kmr::Expected<FactoredMlp> factor_mlp(const Mlp& model, const std::vector<std::int64_t>& ranks) {
  if (ranks.size() != model.layers.size()) {
    return kmr::Error{"lowrank: " + std::to_string(ranks.size()) + " ranks given for a model of " +
                      std::to_string(model.layers.size()) + " layers"};
  }
  FactoredMlp out;
  out.act = model.act;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    if (ranks[l] == 0) {
      out.layers.emplace_back(layer);
      continue;
    }
    kmr::Expected<LowRankFactors> f = truncated_svd(layer.weight, ranks[l]);
    if (!f) return kmr::Error{"lowrank: fc" + std::to_string(l + 1) + ".weight: " + f.error().message};
    out.layers.emplace_back(LowRankLayer{std::move(f->a), std::move(f->b), layer.bias});
  }
  return out;
}

Matrix factored_mlp_forward(const FactoredMlp& model, const Matrix& inputs) {
  Matrix x = inputs;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    Matrix z = linear(model.layers[l], x);
    if (l + 1 < model.layers.size()) apply_activation(model.act, z);
    x = std::move(z);
  }
  return x;
}

Mlp densify(const FactoredMlp& model) {
  Mlp out;
  out.act = model.act;
  for (const auto& layer : model.layers) {
    if (const auto* d = std::get_if<DenseLayer>(&layer)) {
      out.layers.push_back(*d);
    } else {
      const LowRankLayer& f = std::get<LowRankLayer>(layer);
      out.layers.push_back(DenseLayer{f.a * f.b, f.bias});
    }
  }
  return out;
}

ModelForward forward_of(const FactoredMlp& model) {
  ModelForward f;
  f.widths = model.arch().widths;
  f.layer_outputs = [&model](const Matrix& batch, std::vector<Matrix>& out) {
    out.resize(model.layers.size());
    Matrix x = batch;
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      Matrix z = linear(model.layers[l], x);
      out[l] = z;
      if (l + 1 < model.layers.size()) apply_activation(model.act, z);
      x = std::move(z);
    }
  };
  return f;
}

}  // namespace kmr::runtime
