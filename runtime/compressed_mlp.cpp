// The forward pass on stored weights: dequantized panels for codes, a CSR product over the
// bitmask for sparse weights, two thin products for factors.
#include "runtime/compressed_mlp.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor_info.h"

namespace kmr::runtime {
namespace {

// Output rows dequantized at once: 96 x in floats (294 KiB for 784 inputs) stay in L2 while
// the batch streams past them. Eigen's GEMM computes rows in register blocks of 3, 2 and 1
// SIMD packets (3 x 16 floats at most, with AVX-512) and sums a row's products in an order
// that depends on the kind of block; its GEMV in blocks of 8 rows. A multiple of 48 keeps
// each row in the kind of block it has in the whole weight's product (header).
constexpr std::int64_t kPanelRows = 96;

// Examples a sparse product handles at once: their inputs for every column (392 KiB for 128
// examples of 784 inputs) stay in L2 while all output rows are computed.
constexpr std::int64_t kSparseBatch = 128;
// Examples whose sums a sparse product keeps in registers while it walks a row's non-zeros.
constexpr int kSparseLanes = 32;

std::string layer_tensor(std::size_t layer, const char* role) { return "fc" + std::to_string(layer + 1) + role; }

std::vector<std::int64_t> shape_of(const Matrix& w) { return {w.rows(), w.cols()}; }
std::vector<std::int64_t> shape_of(const QuantizedTensor& q) { return q.shape; }
std::vector<std::int64_t> shape_of(const SparseTensor& s) { return s.shape; }
std::vector<std::int64_t> shape_of(const LowRankTensor& f) { return {f.rows, f.cols}; }

kmr::Status validate_weight(const Matrix&) { return kmr::Status::success(); }
template <class Stored>
kmr::Status validate_weight(const Stored& w) {
  return validate(w);
}

Matrix dense_weight(const Matrix& w) { return w; }
template <class Stored>
Matrix dense_weight(const Stored& w) {
  const std::vector<float> values = dequantize(w);
  const MatrixDims dims = matrix_dims(shape_of(w));
  return Eigen::Map<const Matrix>(values.data(), dims.rows, dims.cols);
}

// Rows [first, first + panel.rows()) of dequantize(q), with its formula: the same bits.
void dequantize_rows(const QuantizedTensor& q, std::int64_t first, Matrix& panel) {
  const std::int64_t cols = panel.cols();
  const std::int64_t groups = groups_per_row(q);
  const std::int64_t width = q.strategy == QuantStrategy::Group ? q.group_size : cols;
  for (std::int64_t r = 0; r < panel.rows(); ++r) {
    const std::int64_t row = first + r;
    const std::int64_t first_unit = q.strategy == QuantStrategy::Tensor    ? 0
                                    : q.strategy == QuantStrategy::Channel ? row
                                                                           : row * groups;
    const std::int8_t* codes = q.codes.data() + row * cols;
    float* out = panel.data() + r * cols;
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t unit = first_unit + g;
      const float scale = q.scales[unit];
      const std::int32_t zero = q.symmetric ? 0 : q.zero_points[unit];
      const std::int64_t end = std::min(cols, (g + 1) * width);
      for (std::int64_t c = g * width; c < end; ++c) {
        out[c] = static_cast<float>(static_cast<std::int32_t>(codes[c]) - zero) * scale;
      }
    }
  }
}

Matrix product(const Matrix& w, const Matrix& x) { return x * w.transpose(); }

Matrix product(const QuantizedTensor& q, const Matrix& x) {
  const MatrixDims dims = matrix_dims(q.shape);
  Matrix z(x.rows(), dims.rows);
  Matrix panel;
  for (std::int64_t first = 0; first < dims.rows;) {
    const std::int64_t left = dims.rows - first;
    const std::int64_t rows = left < 2 * kPanelRows ? left : kPanelRows;
    panel.resize(rows, dims.cols);
    dequantize_rows(q, first, panel);
    z.middleCols(first, rows).noalias() = x * panel.transpose();
    first += rows;
  }
  return z;
}

Matrix product(const SparseTensor& s, const Matrix& x) {
  using Lanes = Eigen::Matrix<float, 1, kSparseLanes>;
  const MatrixDims dims = matrix_dims(s.shape);
  const std::int64_t row_bytes = bitmask_row_bytes(dims.cols);
  // Transposed, so that the inputs a stored value multiplies are a contiguous run of examples.
  const Matrix xt = x.transpose();
  Matrix zt(dims.rows, x.rows());
  std::vector<std::int64_t> columns(static_cast<std::size_t>(dims.cols));  // of one row's non-zeros
  for (std::int64_t first = 0; first < x.rows(); first += kSparseBatch) {
    const std::int64_t end = std::min(first + kSparseBatch, x.rows());
    for (std::int64_t r = 0; r < dims.rows; ++r) {
      const std::uint8_t* mask = s.bitmask.data() + r * row_bytes;
      std::size_t count = 0;
      for (std::int64_t byte = 0; byte < row_bytes; ++byte) {
        for (unsigned bits = mask[byte]; bits != 0; bits &= bits - 1) columns[count++] = byte * 8 + __builtin_ctz(bits);
      }
      const float* values = s.values.data() + s.row_offsets[r];
      std::int64_t e = first;
      for (; e + kSparseLanes <= end; e += kSparseLanes) {
        Lanes sum = Lanes::Zero();
        for (std::size_t i = 0; i < count; ++i) sum += values[i] * xt.row(columns[i]).segment<kSparseLanes>(e);
        zt.row(r).segment<kSparseLanes>(e) = sum;
      }
      for (; e < end; ++e) {
        float sum = 0.0f;
        for (std::size_t i = 0; i < count; ++i) sum += values[i] * xt(columns[i], e);
        zt(r, e) = sum;
      }
    }
  }
  return zt.transpose();
}

Matrix product(const LowRankTensor& f, const Matrix& x) {
  const Eigen::Map<const Matrix> u(f.u.data(), f.rows, f.rank);
  const Eigen::Map<const Matrix> v(f.v.data(), f.rank, f.cols);
  const Matrix t = x * v.transpose();
  return t * u.transpose();
}

}  // namespace

MlpArch CompressedMlp::arch() const {
  MlpArch a;
  a.act = act;
  for (const CompressedLayer& layer : layers) {
    const MatrixDims dims = std::visit([](const auto& w) { return matrix_dims(shape_of(w)); }, layer.weight);
    if (a.widths.empty()) a.widths.push_back(dims.cols);
    a.widths.push_back(dims.rows);
  }
  return a;
}

kmr::Expected<CompressedMlp> make_compressed_mlp(Activation act, std::vector<CompressedLayer> layers) {
  if (layers.empty()) return kmr::Error{"a compressed MLP needs at least one layer"};
  std::vector<std::int64_t> previous;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const std::string weight = layer_tensor(l, ".weight");
    const LayerWeight& stored = layers[l].weight;
    if (kmr::Status status = std::visit([](const auto& w) { return validate_weight(w); }, stored); !status) {
      return kmr::Error{weight + ": " + status.error().message};
    }
    const std::vector<std::int64_t> shape = std::visit([](const auto& w) { return shape_of(w); }, stored);
    if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) {
      return kmr::Error{"tensor " + weight + " " + shape_string(shape) +
                        " must be a matrix [out, in] with positive sizes"};
    }
    if (layers[l].bias.size() != shape[0]) {
      return kmr::Error{"tensor " + layer_tensor(l, ".bias") + " " + shape_string({layers[l].bias.size()}) +
                        " does not match " + weight + " " + shape_string(shape) + ": expected [" +
                        std::to_string(shape[0]) + "]"};
    }
    if (!previous.empty() && previous[0] != shape[1]) {
      return kmr::Error{"tensor " + weight + " " + shape_string(shape) + " takes " + std::to_string(shape[1]) +
                        " inputs but " + layer_tensor(l - 1, ".weight") + " " + shape_string(previous) +
                        " produces " + std::to_string(previous[0])};
    }
    previous = shape;
  }
  CompressedMlp model;
  model.act = act;
  model.layers = std::move(layers);
  return model;
}

kmr::Expected<CompressedMlp> load_compressed_mlp(const CompressedCheckpoint& checkpoint, Activation act) {
  // infer_mlp on the dense names, shapes and dtypes: the same model a dense load would find.
  std::vector<TensorInfo> dense;
  for (const LogicalTensor& t : checkpoint.tensors()) dense.push_back(TensorInfo{t.name, t.dtype, t.shape, 0, 0});
  kmr::Expected<MlpArch> arch = infer_mlp(dense, act);
  if (!arch) return kmr::Error{checkpoint.path() + ": " + arch.error().message};

  std::vector<CompressedLayer> layers;
  for (std::size_t l = 0; l + 1 < arch->widths.size(); ++l) {
    const LogicalTensor& w = *checkpoint.find(layer_tensor(l, ".weight"));
    CompressedLayer layer;
    if (w.encoding == Encoding::Dense) {
      kmr::Expected<std::vector<float>> values = checkpoint.decode(w);
      if (!values) return values.error();
      layer.weight = Matrix(Eigen::Map<const Matrix>(values->data(), w.shape[0], w.shape[1]));
    } else if (w.encoding == Encoding::SparseBitmask) {
      kmr::Expected<SparseTensor> s = checkpoint.read_sparse(w);
      if (!s) return s.error();
      layer.weight = std::move(*s);
    } else if (w.encoding == Encoding::LowRank) {
      kmr::Expected<LowRankTensor> f = checkpoint.read_low_rank(w);
      if (!f) return f.error();
      layer.weight = std::move(*f);
    } else {  // every other encoding stores codes and scales; read_quantized fails otherwise
      kmr::Expected<QuantizedTensor> q = checkpoint.read_quantized(w);
      if (!q) return q.error();
      layer.weight = std::move(*q);
    }
    const LogicalTensor& b = *checkpoint.find(layer_tensor(l, ".bias"));
    kmr::Expected<std::vector<float>> bias = checkpoint.decode(b);
    if (!bias) return bias.error();
    layer.bias = Eigen::Map<const Eigen::VectorXf>(bias->data(), static_cast<Eigen::Index>(bias->size()));
    layers.push_back(std::move(layer));
  }
  kmr::Expected<CompressedMlp> model = make_compressed_mlp(act, std::move(layers));
  if (!model) return kmr::Error{checkpoint.path() + ": " + model.error().message};
  return model;
}

Mlp densify(const CompressedMlp& model) {
  Mlp out;
  out.act = model.act;
  for (const CompressedLayer& layer : model.layers) {
    out.layers.push_back({std::visit([](const auto& w) { return dense_weight(w); }, layer.weight), layer.bias});
  }
  return out;
}

ModelForward forward_of(const CompressedMlp& model) {
  ModelForward f;
  f.widths = model.arch().widths;
  f.layer_outputs = [&model](const Matrix& batch, std::vector<Matrix>& out) {
    out.resize(model.layers.size());
    Matrix activated;  // the previous layer's output after the activation
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
      const CompressedLayer& layer = model.layers[l];
      const Matrix& x = l == 0 ? batch : activated;
      Matrix z = std::visit([&](const auto& w) { return product(w, x); }, layer.weight);
      z.rowwise() += layer.bias.transpose();
      out[l] = z;
      if (l + 1 < model.layers.size()) {
        apply_activation(model.act, z);
        activated = std::move(z);
      }
    }
  };
  return f;
}

}  // namespace kmr::runtime
