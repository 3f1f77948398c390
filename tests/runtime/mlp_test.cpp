// MLP architecture inference from tensor shapes, weight loading and inference.
#include "runtime/mlp.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

rt::TensorInfo tensor(const std::string& name, std::vector<std::int64_t> shape, rt::DType dtype = rt::DType::F32) {
  return rt::TensorInfo{name, dtype, std::move(shape), 0, 0};
}

std::vector<rt::TensorInfo> baseline_tensors() {
  return {tensor("fc1.weight", {256, 784}), tensor("fc1.bias", {256}),       tensor("fc2.weight", {128, 256}),
          tensor("fc2.bias", {128}),        tensor("fc3.weight", {10, 128}), tensor("fc3.bias", {10})};
}

std::string error_of(const std::vector<rt::TensorInfo>& tensors) {
  kmr::Expected<rt::MlpArch> arch = rt::infer_mlp(tensors, rt::Activation::relu);
  REQUIRE_FALSE(arch.ok());
  return arch.error().message;
}

}  // namespace

TEST_SUITE("mlp") {
  TEST_CASE("infer_mlp reads the widths of a chained fcN stack, in any tensor order") {
    std::vector<rt::TensorInfo> tensors = baseline_tensors();
    std::reverse(tensors.begin(), tensors.end());
    tensors.push_back(tensor("fc1.weight_scale", {256}, rt::DType::I8));  // not an MLP tensor: ignored
    tensors.push_back(tensor("embed", {3}));
    kmr::Expected<rt::MlpArch> arch = rt::infer_mlp(tensors, rt::Activation::gelu);
    REQUIRE_MESSAGE(arch.ok(), (arch.ok() ? "" : arch.error().message));
    CHECK(arch->widths == std::vector<std::int64_t>{784, 256, 128, 10});
    CHECK(arch->act == rt::Activation::gelu);

    std::vector<rt::TensorInfo> ten_layers;
    for (int i = 1; i <= 10; ++i) {
      ten_layers.push_back(tensor("fc" + std::to_string(i) + ".weight", {4, 4}));
      ten_layers.push_back(tensor("fc" + std::to_string(i) + ".bias", {4}, rt::DType::BF16));
    }
    CHECK(rt::infer_mlp(ten_layers, rt::Activation::tanh)->widths.size() == 11);
  }

  TEST_CASE("infer_mlp errors name the tensors at fault") {
    std::vector<rt::TensorInfo> t = baseline_tensors();
    t[2] = tensor("fc2.weight", {128, 300});
    CHECK(error_of(t) == "tensor fc2.weight [128, 300] takes 300 inputs but fc1.weight [256, 784] produces 256");

    t = baseline_tensors();
    t[3] = tensor("fc2.bias", {64});
    CHECK(error_of(t) == "tensor fc2.bias [64] does not match fc2.weight [128, 256]: expected [128]");

    t = baseline_tensors();
    t.erase(t.begin() + 2, t.begin() + 4);
    CHECK(error_of(t) == "MLP layers must be numbered contiguously: found fc3 but no fc2");

    t = baseline_tensors();
    t.erase(t.begin() + 1);
    CHECK(error_of(t) == "fc1.weight has no matching fc1.bias");

    t = baseline_tensors();
    t.erase(t.begin());
    CHECK(error_of(t) == "fc1.bias has no matching fc1.weight");

    t = baseline_tensors();
    t[0] = tensor("fc1.weight", {256, 784}, rt::DType::I32);
    CHECK(error_of(t) == "tensor 'fc1.weight' has dtype I32; MLP weights must be floats");

    t = baseline_tensors();
    t[0] = tensor("fc1.weight", {256, 28, 28});
    CHECK(error_of(t) == "tensor fc1.weight [256, 28, 28] must be a matrix [out, in] with positive sizes");

    CHECK(error_of({tensor("fc0.weight", {2, 2})}) == "tensor 'fc0.weight': MLP layers are numbered from fc1");
    CHECK(error_of({tensor("encoder.weight", {2, 2})}).find("no MLP layers") != std::string::npos);
    CHECK(error_of({}).find("no MLP layers") != std::string::npos);
  }

  TEST_CASE("activation names parse") {
    CHECK(rt::parse_activation("relu") == rt::Activation::relu);
    CHECK(rt::parse_activation("gelu") == rt::Activation::gelu);
    CHECK(rt::parse_activation("tanh") == rt::Activation::tanh);
    CHECK_FALSE(rt::parse_activation("sigmoid").has_value());
  }

  TEST_CASE("a saved model loads back identically and computes x W^T + b with the activation") {
    rt::Mlp model = rt::init_mlp({{3, 4, 2}, rt::Activation::relu}, 5);
    REQUIRE(model.layers.size() == 2);
    CHECK(model.arch().widths == std::vector<std::int64_t>{3, 4, 2});
    for (const rt::DenseLayer& layer : model.layers) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(layer.weight.cols()));
      CHECK(layer.weight.cwiseAbs().maxCoeff() <= bound);
      CHECK(layer.bias.cwiseAbs().maxCoeff() <= bound);
    }
    CHECK(rt::init_mlp({{3, 4, 2}, rt::Activation::relu}, 5).layers[1].weight == model.layers[1].weight);
    CHECK(rt::init_mlp({{3, 4, 2}, rt::Activation::relu}, 6).layers[1].weight != model.layers[1].weight);

    rt::testing::TempDir dir;
    const std::string path = dir.file("mlp.safetensors");
    REQUIRE(rt::write_safetensors(path, rt::mlp_tensors(model), {}).ok());
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE(file.ok());
    kmr::Expected<rt::Mlp> loaded = rt::load_mlp(*file, rt::Activation::relu);
    REQUIRE(loaded.ok());
    for (std::size_t l = 0; l < 2; ++l) {
      CHECK(loaded->layers[l].weight == model.layers[l].weight);
      CHECK(loaded->layers[l].bias == model.layers[l].bias);
    }

    rt::Matrix x(2, 3);
    x << 1, -2, 0.5f, 0, 3, -1;
    const rt::Matrix logits = rt::mlp_forward(*loaded, x);
    for (int r = 0; r < 2; ++r) {
      for (int o = 0; o < 2; ++o) {
        float out = model.layers[1].bias[o];
        for (int h = 0; h < 4; ++h) {
          float z = model.layers[0].bias[h];
          for (int i = 0; i < 3; ++i) z += x(r, i) * model.layers[0].weight(h, i);
          out += std::max(z, 0.0f) * model.layers[1].weight(o, h);
        }
        CHECK(logits(r, o) == doctest::Approx(out).epsilon(1e-5));
      }
    }
  }

  TEST_CASE("top1 accuracy counts argmax hits and checks the input width") {
    rt::Mlp model = rt::init_mlp({{2, 2}, rt::Activation::relu}, 1);
    model.layers[0].weight << 1, 0, 0, 1;  // logits = inputs: the larger input wins
    model.layers[0].bias.setZero();
    rt::Dataset data;
    data.count = 4;
    data.features = 2;
    data.num_classes = 2;
    data.inputs = {1, 0, 0, 1, 2, 3, 5, 4};
    data.labels = {0, 1, 0, 0};
    CHECK(*rt::top1_accuracy(model, data, 3) == 0.75);
    CHECK(rt::argmax_rows(rt::Matrix::Ones(1, 3)) == std::vector<std::int32_t>{0});
    data.features = 1;
    CHECK(rt::top1_accuracy(model, data).error().message ==
          "top1: the data has 1 features but the model takes 2 inputs");
  }
}
