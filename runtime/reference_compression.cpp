// Symmetric group quantization and magnitude pruning, layer by layer.
#include "runtime/reference_compression.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace kmr::runtime {
namespace {

std::string weight_name(std::size_t layer) { return "fc" + std::to_string(layer + 1) + ".weight"; }

QuantizedTensor quantize_groups(std::string name, const Matrix& w, int bits, std::int64_t group_size) {
  QuantizedTensor q;
  q.name = std::move(name);
  q.shape = {w.rows(), w.cols()};
  q.bits = bits;
  q.strategy = QuantStrategy::Group;
  q.group_size = group_size;
  const float top = static_cast<float>((1 << (bits - 1)) - 1);
  q.codes.resize(static_cast<std::size_t>(w.size()));
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    for (Eigen::Index first = 0; first < w.cols(); first += group_size) {
      const Eigen::Index n = std::min<Eigen::Index>(group_size, w.cols() - first);
      const float largest = w.row(r).segment(first, n).cwiseAbs().maxCoeff();
      const float scale = largest > 0.0f ? largest / top : 1.0f;
      q.scales.push_back(scale);
      for (Eigen::Index c = first; c < first + n; ++c) {
        const float code = std::clamp(std::round(w(r, c) / scale), -top - 1.0f, top);
        q.codes[static_cast<std::size_t>(r * w.cols() + c)] = static_cast<std::int8_t>(code);
      }
    }
  }
  return q;
}

SparseTensor prune_smallest(std::string name, const Matrix& w, double sparsity) {
  const auto drop = static_cast<std::size_t>(std::floor(sparsity * static_cast<double>(w.size())));
  std::vector<std::size_t> order(static_cast<std::size_t>(w.size()));
  std::iota(order.begin(), order.end(), std::size_t{0});
  const float* values = w.data();
  const auto smaller = [values](std::size_t a, std::size_t b) {
    const float x = std::abs(values[a]);
    const float y = std::abs(values[b]);
    return x < y || (x == y && a < b);
  };
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(drop), order.end(), smaller);
  Matrix pruned = w;
  for (std::size_t i = 0; i < drop; ++i) pruned.data()[order[i]] = 0.0f;
  return sparse_from_dense(std::move(name), {w.rows(), w.cols()}, DType::F32, pruned.data());
}

}  // namespace

kmr::Expected<CompressedMlp> quantize_mlp(const Mlp& model, int bits, std::int64_t group_size) {
  if (bits < 2 || bits > 8) return kmr::Error{"quantize: " + std::to_string(bits) + " bits is outside 2..8"};
  if (group_size <= 0) return kmr::Error{"quantize: the group size must be positive"};
  std::vector<CompressedLayer> layers;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    layers.push_back({quantize_groups(weight_name(l), layer.weight, bits, group_size), layer.bias});
  }
  return make_compressed_mlp(model.act, std::move(layers));
}

kmr::Expected<CompressedMlp> prune_mlp(const Mlp& model, double sparsity) {
  if (!(sparsity >= 0.0 && sparsity <= 1.0)) {
    return kmr::Error{"prune: sparsity " + std::to_string(sparsity) + " is outside [0, 1]"};
  }
  std::vector<CompressedLayer> layers;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const DenseLayer& layer = model.layers[l];
    layers.push_back({prune_smallest(weight_name(l), layer.weight, sparsity), layer.bias});
  }
  return make_compressed_mlp(model.act, std::move(layers));
}

}  // namespace kmr::runtime
