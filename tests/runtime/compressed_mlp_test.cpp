// The forward pass on compressed weights against the dense twin: bit for bit where the
// header promises it, to rounding elsewhere; through a saved checkpoint; on bad input.
#include "runtime/compressed_mlp.h"

#include <doctest/doctest.h>

#include <cstring>

#include "compressed_samples.h"
#include "runtime/compressed_writer.h"
#include "runtime/fashion_mnist.h"
#include "runtime/model_meters.h"
#include "runtime/reference_compression.h"
#include "test_support.h"

namespace rt = kmr::runtime;
using rt::testing::random_dataset;
using rt::testing::random_low_rank;
using rt::testing::random_quantized;

namespace {

// Restores Eigen's thread count when a test that changes it ends, however it ends.
struct EigenThreads {
  int saved = Eigen::nbThreads();
  ~EigenThreads() { Eigen::setNbThreads(saved); }
};

rt::Matrix logits_of(const rt::ModelForward& model, const rt::Dataset& data, std::int64_t batch) {
  kmr::Expected<rt::Matrix> logits = rt::model_logits(model, data, batch);
  REQUIRE_MESSAGE(logits.ok(), (logits.ok() ? "" : logits.error().message));
  return std::move(*logits);
}

bool same_bits(const rt::Matrix& a, const rt::Matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0;
}

double relative_error(const rt::Matrix& a, const rt::Matrix& reference) {
  return static_cast<double>((a - reference).norm() / reference.norm());
}

rt::CompressedMlp assemble(rt::Activation act, std::vector<rt::CompressedLayer> layers) {
  kmr::Expected<rt::CompressedMlp> model = rt::make_compressed_mlp(act, std::move(layers));
  REQUIRE_MESSAGE(model.ok(), (model.ok() ? "" : model.error().message));
  return std::move(*model);
}

Eigen::VectorXf random_bias(std::int64_t n, std::uint64_t seed) {
  const rt::Mlp m = rt::init_mlp({{1, n}, rt::Activation::relu}, seed);
  return m.layers[0].bias;
}

rt::SparseTensor random_sparse(std::int64_t rows, std::int64_t cols, double density, std::uint64_t seed) {
  const std::vector<float> values = rt::testing::random_sparse_values({rows, cols}, density, seed);
  return rt::sparse_from_dense("w.weight", {rows, cols}, rt::DType::F32, values.data());
}

// One quantization scheme on three layers: 300 outputs (panels of 96, 96 and 108 rows), 200
// (96 and 104) and 7 (narrower than a panel); partial last groups where the group size does
// not divide the inputs.
struct Scheme {
  int bits;
  rt::QuantStrategy strategy;
  std::int64_t group_size;
  bool symmetric;
};

rt::CompressedMlp quantized_model(const Scheme& s, std::uint64_t seed) {
  const std::vector<std::int64_t> widths = {120, 300, 200, 7};
  std::vector<rt::CompressedLayer> layers;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    rt::QuantizedTensor q = random_quantized("fc.weight", {widths[l + 1], widths[l]}, s.bits, s.strategy,
                                             s.group_size, s.symmetric, seed + l);
    // Scales that keep activations of order 1 through the layers.
    for (float& scale : q.scales) scale /= static_cast<float>(widths[l]);
    layers.push_back({std::move(q), random_bias(widths[l + 1], seed + 10 + l)});
  }
  return assemble(rt::Activation::gelu, std::move(layers));
}

// The tensors of `model` for write_compressed, named fcN; dense ones view `model`.
rt::CompressedModel to_compressed_model(const rt::CompressedMlp& model) {
  rt::CompressedModel out;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const std::string prefix = "fc" + std::to_string(l + 1);
    const rt::CompressedLayer& layer = model.layers[l];
    const auto view = [](const float* data, Eigen::Index n) {
      return rt::ByteView{reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(n) * sizeof(float)};
    };
    out.dense.push_back({prefix + ".bias", rt::DType::F32, {layer.bias.size()}, view(layer.bias.data(), layer.bias.size())});
    if (const auto* m = std::get_if<rt::Matrix>(&layer.weight)) {
      out.dense.push_back({prefix + ".weight", rt::DType::F32, {m->rows(), m->cols()}, view(m->data(), m->size())});
    } else if (const auto* q = std::get_if<rt::QuantizedTensor>(&layer.weight)) {
      out.quantized.push_back(*q);
      out.quantized.back().name = prefix + ".weight";
    } else if (const auto* s = std::get_if<rt::SparseTensor>(&layer.weight)) {
      out.sparse.push_back(*s);
      out.sparse.back().name = prefix + ".weight";
    } else {
      out.low_rank.push_back(std::get<rt::LowRankTensor>(layer.weight));
      out.low_rank.back().name = prefix + ".weight";
    }
  }
  return out;
}

kmr::Expected<rt::CompressedMlp> save_and_load(const rt::testing::TempDir& dir, const rt::CompressedModel& model) {
  const std::string path = dir.file("model.safetensors");
  kmr::Status written = rt::write_compressed(path, model, {});
  REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
  REQUIRE_MESSAGE(ckpt.ok(), (ckpt.ok() ? "" : ckpt.error().message));
  return rt::load_compressed_mlp(*ckpt, rt::Activation::relu);
}

std::string error_of(const kmr::Expected<rt::CompressedMlp>& model) {
  REQUIRE_FALSE(model.ok());
  return model.error().message;
}

}  // namespace

TEST_SUITE("compressed_mlp") {
  TEST_CASE("quantized layers give the dense twin's logits bit for bit: every bit width, strategy and symmetry") {
    EigenThreads restore;
    const std::vector<Scheme> schemes = {
        {8, rt::QuantStrategy::Channel, 0, true},  {8, rt::QuantStrategy::Tensor, 0, false},
        {4, rt::QuantStrategy::Group, 16, true},   {4, rt::QuantStrategy::Group, 64, false},
        {3, rt::QuantStrategy::Channel, 0, false}, {2, rt::QuantStrategy::Tensor, 0, true},
        {5, rt::QuantStrategy::Group, 9, false},   {6, rt::QuantStrategy::Group, 1, true},
        {7, rt::QuantStrategy::Group, 200, true},
    };
    const rt::Dataset data = random_dataset(300, 120, 7, 5);
    for (std::size_t i = 0; i < schemes.size(); ++i) {
      const rt::CompressedMlp model = quantized_model(schemes[i], 100 + 10 * i);
      const rt::Mlp twin = rt::densify(model);
      for (int threads : {1, 2}) {
        Eigen::setNbThreads(threads);
        // One example (Eigen's matrix-vector kernel), odd sizes, one batch of everything.
        for (std::int64_t batch : {1, 2, 3, 7, 64, 300}) {
          CAPTURE(i);
          CAPTURE(threads);
          CAPTURE(batch);
          CHECK(same_bits(logits_of(rt::forward_of(model), data, batch), logits_of(rt::forward_of(twin), data, batch)));
        }
      }
    }
  }

  TEST_CASE("every layer output of a quantized model is the dense twin's, so output_error is 0") {
    const rt::CompressedMlp model = quantized_model({4, rt::QuantStrategy::Group, 32, false}, 7);
    const rt::Mlp twin = rt::densify(model);
    const rt::Dataset data = random_dataset(500, 120, 7, 8);
    kmr::Expected<rt::OutputError> drift = rt::output_error(rt::forward_of(model), rt::forward_of(twin), data);
    REQUIRE(drift.ok());
    for (double e : drift->per_layer) CHECK(e == 0.0);
    CHECK(*rt::top1(rt::forward_of(model), data) == *rt::top1(twin, data));
    CHECK(*rt::loss(rt::forward_of(model), data) == *rt::loss(twin, data));
  }

  TEST_CASE("sparse, low-rank and mixed models agree with the dense twin to rounding") {
    EigenThreads restore;
    const rt::Dataset data = random_dataset(200, 70, 5, 9);
    std::vector<rt::CompressedLayer> sparse_layers;
    sparse_layers.push_back({random_sparse(150, 70, 0.5, 1), random_bias(150, 2)});
    sparse_layers.push_back({random_sparse(60, 150, 0.05, 3), random_bias(60, 4)});  // rows 1 and 2: none, all
    sparse_layers.push_back({random_sparse(5, 60, 1.0, 5), random_bias(5, 6)});
    std::vector<rt::CompressedLayer> low_rank_layers;
    low_rank_layers.push_back({random_low_rank("a.weight", 90, 70, 8, 7), random_bias(90, 8)});
    low_rank_layers.push_back({random_low_rank("b.weight", 5, 90, 0, 9), random_bias(5, 10)});  // rank 0
    std::vector<rt::CompressedLayer> mixed;
    mixed.push_back({random_quantized("q.weight", {130, 70}, 4, rt::QuantStrategy::Group, 32, true, 11),
                     random_bias(130, 12)});
    mixed.push_back({random_sparse(80, 130, 0.3, 13), random_bias(80, 14)});
    mixed.push_back({random_low_rank("l.weight", 40, 80, 4, 15), random_bias(40, 16)});
    mixed.push_back({rt::init_mlp({{40, 5}, rt::Activation::tanh}, 17).layers[0].weight, random_bias(5, 18)});

    for (auto* layers : {&sparse_layers, &low_rank_layers, &mixed}) {
      const rt::CompressedMlp model = assemble(rt::Activation::tanh, *layers);
      const rt::Mlp twin = rt::densify(model);
      for (int threads : {1, 2}) {
        Eigen::setNbThreads(threads);
        for (std::int64_t batch : {1, 3, 64, 65, 200}) {
          const rt::Matrix got = logits_of(rt::forward_of(model), data, batch);
          const rt::Matrix want = logits_of(rt::forward_of(twin), data, batch);
          CAPTURE(batch);
          CHECK(relative_error(got, want) < 1e-6);
          CHECK(got.isApprox(want, 1e-5f));
        }
      }
      CHECK(*rt::agreement(rt::forward_of(model), rt::forward_of(twin), data) == 1.0);
    }
  }

  TEST_CASE("the Fashion-MNIST baseline at 4 bits and at 50% sparsity classifies as its dense twin" *
            doctest::skip(!rt::testing::data_present())) {
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE(file.ok());
    kmr::Expected<rt::Mlp> baseline = rt::load_mlp(*file, rt::Activation::relu);
    REQUIRE(baseline.ok());
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", -1, rt::default_fashion_mnist_dir());
    REQUIRE(test.ok());
    const double dense_top1 = *rt::top1(*baseline, *test);

    kmr::Expected<rt::CompressedMlp> q4 = rt::quantize_mlp(*baseline, 4, 64);
    kmr::Expected<rt::CompressedMlp> half = rt::prune_mlp(*baseline, 0.5);
    REQUIRE(q4.ok());
    REQUIRE(half.ok());
    for (const rt::CompressedMlp* model : {&*q4, &*half}) {
      const rt::Mlp twin = rt::densify(*model);
      const double compressed_top1 = *rt::top1(rt::forward_of(*model), *test);
      CHECK(compressed_top1 == *rt::top1(twin, *test));
      CHECK(*rt::agreement(rt::forward_of(*model), rt::forward_of(twin), *test) == 1.0);
      // Without retraining, 4 bits cost under a point and 50% magnitude pruning a few.
      CHECK(compressed_top1 > dense_top1 - 0.05);
      MESSAGE("top1 " << compressed_top1 << " (dense " << dense_top1 << ")");
    }
    CHECK(same_bits(*rt::model_logits(rt::forward_of(*q4), *test), *rt::model_logits(rt::forward_of(rt::densify(*q4)), *test)));
    // Half of every weight is gone: the mask keeps the rest.
    for (const rt::CompressedLayer& layer : half->layers) {
      const rt::SparseTensor& s = std::get<rt::SparseTensor>(layer.weight);
      const rt::MatrixDims dims = rt::matrix_dims(s.shape);
      CHECK(static_cast<std::int64_t>(s.values.size()) == dims.rows * dims.cols - dims.rows * dims.cols / 2);
    }
  }

  TEST_CASE("a model saved in the compressed layout loads back in the same forms and computes the same logits") {
    const rt::Mlp dense = rt::init_mlp({{50, 140, 70, 30, 6}, rt::Activation::relu}, 31);
    std::vector<rt::CompressedLayer> layers;
    rt::QuantizedTensor q = random_quantized("x.weight", {140, 50}, 3, rt::QuantStrategy::Group, 16, false, 32);
    for (float& scale : q.scales) scale *= 0.05f;
    layers.push_back({std::move(q), dense.layers[0].bias});
    layers.push_back({std::move(std::get<rt::SparseTensor>(rt::prune_mlp(dense, 0.7)->layers[1].weight)),
                      dense.layers[1].bias});
    layers.push_back({random_low_rank("y.weight", 30, 70, 5, 33), dense.layers[2].bias});
    layers.push_back({dense.layers[3].weight, dense.layers[3].bias});
    const rt::CompressedMlp model = assemble(rt::Activation::relu, std::move(layers));

    rt::testing::TempDir dir;
    kmr::Expected<rt::CompressedMlp> loaded = save_and_load(dir, to_compressed_model(model));
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    REQUIRE(loaded->layers.size() == 4);
    CHECK(std::holds_alternative<rt::QuantizedTensor>(loaded->layers[0].weight));
    CHECK(std::holds_alternative<rt::SparseTensor>(loaded->layers[1].weight));
    CHECK(std::holds_alternative<rt::LowRankTensor>(loaded->layers[2].weight));
    CHECK(std::holds_alternative<rt::Matrix>(loaded->layers[3].weight));
    CHECK(loaded->arch().widths == model.arch().widths);
    const rt::Dataset data = random_dataset(100, 50, 6, 34);
    CHECK(same_bits(logits_of(rt::forward_of(*loaded), data, 32), logits_of(rt::forward_of(model), data, 32)));

    // The dense load of the same file (kmrc decode's view) is the dense twin.
    kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(dir.file("model.safetensors"));
    REQUIRE(ckpt.ok());
    const rt::Mlp twin = rt::densify(*loaded);
    for (std::size_t l = 0; l < twin.layers.size(); ++l) {
      const rt::LogicalTensor* w = ckpt->find("fc" + std::to_string(l + 1) + ".weight");
      REQUIRE(w != nullptr);
      kmr::Expected<std::vector<float>> decoded = ckpt->decode(*w);
      REQUIRE(decoded.ok());
      CHECK(std::memcmp(decoded->data(), twin.layers[l].weight.data(), decoded->size() * sizeof(float)) == 0);
    }
  }

  TEST_CASE("bad layers are errors that name the tensors") {
    const rt::Matrix w1 = rt::Matrix::Ones(20, 8);
    CHECK(error_of(rt::make_compressed_mlp(rt::Activation::relu, {})).find("at least one layer") != std::string::npos);

    // A quantized fc2 that takes 30 inputs after an fc1 that produces 20.
    std::string message = error_of(rt::make_compressed_mlp(
        rt::Activation::relu,
        {{w1, Eigen::VectorXf::Zero(20)},
         {random_quantized("fc2.weight", {10, 30}, 4, rt::QuantStrategy::Channel, 0, true, 1), Eigen::VectorXf::Zero(10)}}));
    CHECK(message == "tensor fc2.weight [10, 30] takes 30 inputs but fc1.weight [20, 8] produces 20");

    message = error_of(rt::make_compressed_mlp(rt::Activation::relu, {{w1, Eigen::VectorXf::Zero(19)}}));
    CHECK(message == "tensor fc1.bias [19] does not match fc1.weight [20, 8]: expected [20]");

    rt::QuantizedTensor bad = random_quantized("fc1.weight", {20, 8}, 4, rt::QuantStrategy::Channel, 0, true, 2);
    bad.codes[5] = 9;  // outside the 4-bit range
    message = error_of(rt::make_compressed_mlp(rt::Activation::relu, {{bad, Eigen::VectorXf::Zero(20)}}));
    CHECK(message.find("fc1.weight") != std::string::npos);
    CHECK(message.find("outside the 4-bit range") != std::string::npos);

    rt::QuantizedTensor cube = random_quantized("fc1.weight", {2, 4, 5}, 8, rt::QuantStrategy::Channel, 0, true, 3);
    message = error_of(rt::make_compressed_mlp(rt::Activation::relu, {{cube, Eigen::VectorXf::Zero(2)}}));
    CHECK(message == "tensor fc1.weight [2, 4, 5] must be a matrix [out, in] with positive sizes");

    rt::SparseTensor sparse = random_sparse(4, 9, 0.5, 4);
    sparse.values.pop_back();
    message = error_of(rt::make_compressed_mlp(rt::Activation::relu, {{sparse, Eigen::VectorXf::Zero(4)}}));
    CHECK(message.find("stored values") != std::string::npos);

    CHECK(!rt::quantize_mlp(rt::Mlp{}, 4, 64).ok());
    CHECK(!rt::quantize_mlp(rt::init_mlp({{3, 2}, rt::Activation::relu}, 1), 9, 64).ok());
    CHECK(!rt::prune_mlp(rt::init_mlp({{3, 2}, rt::Activation::relu}, 1), 1.5).ok());
  }

  TEST_CASE("a checkpoint without a bias or with mismatched shapes is an error naming the tensors") {
    rt::testing::TempDir dir;
    const std::vector<float> zeros(20, 0.0f);
    const auto bias_bytes = [&](std::size_t n) {
      return rt::ByteView{reinterpret_cast<const std::uint8_t*>(zeros.data()), n * sizeof(float)};
    };

    rt::CompressedModel no_bias;
    no_bias.quantized.push_back(random_quantized("fc1.weight", {20, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    std::string message = error_of(save_and_load(dir, no_bias));
    CHECK(message.find("model.safetensors") != std::string::npos);
    CHECK(message.find("fc1.weight has no matching fc1.bias") != std::string::npos);

    rt::CompressedModel mismatch;
    mismatch.dense.push_back({"fc1.bias", rt::DType::F32, {20}, bias_bytes(20)});
    mismatch.dense.push_back({"fc2.bias", rt::DType::F32, {10}, bias_bytes(10)});
    mismatch.quantized.push_back(random_quantized("fc1.weight", {20, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    mismatch.sparse.push_back(random_sparse(10, 30, 0.5, 2));
    mismatch.sparse.back().name = "fc2.weight";
    message = error_of(save_and_load(dir, mismatch));
    CHECK(message.find("fc2.weight [10, 30] takes 30 inputs but fc1.weight [20, 8] produces 20") != std::string::npos);
  }
}
