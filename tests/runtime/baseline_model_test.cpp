// The committed baseline model: its shape, its recorded provenance, and its accuracy.
#include <doctest/doctest.h>
#include <fmt/core.h>

#include <filesystem>

#include "runtime/fashion_mnist.h"
#include "runtime/mlp.h"
#include "runtime/safetensors_reader.h"

namespace rt = kmr::runtime;

namespace {

bool data_present() { return rt::check_fashion_mnist("test", rt::default_fashion_mnist_dir()).ok(); }

}  // namespace

TEST_SUITE("baseline_model") {
  TEST_CASE("examples/fashion_mnist/mlp.safetensors is the documented 784-256-128-10 F32 model") {
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE_MESSAGE(file.ok(), (file.ok() ? "" : file.error().message));
    for (const rt::TensorInfo& t : file->tensors()) CHECK(t.dtype == rt::DType::F32);
    CHECK(file->tensors().size() == 6);
    kmr::Expected<rt::MlpArch> arch = rt::infer_mlp(file->tensors(), rt::Activation::relu);
    REQUIRE(arch.ok());
    CHECK(arch->widths == std::vector<std::int64_t>{784, 256, 128, 10});
    const auto& meta = file->metadata();
    CHECK(meta.at("kmr.input") == "fashion-mnist 28x28 images: the 784 pixels row-major, divided by 255, nothing else");
    CHECK(meta.at("kmr.activation") == "relu");
    for (const char* key : {"kmr.seed", "kmr.epochs", "kmr.optimizer", "kmr.test_accuracy", "kmr.arch"}) {
      CHECK(meta.count(key) == 1);
    }
  }

  TEST_CASE("its test accuracy is at least 88% and equals the one recorded in its metadata" *
            doctest::skip(!data_present())) {
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE(file.ok());
    kmr::Expected<rt::Mlp> model = rt::load_mlp(*file, rt::Activation::relu);
    REQUIRE(model.ok());
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", -1, rt::default_fashion_mnist_dir());
    REQUIRE_MESSAGE(test.ok(), (test.ok() ? "" : test.error().message));
    kmr::Expected<double> accuracy = rt::top1_accuracy(*model, *test);
    REQUIRE(accuracy.ok());
    CHECK(*accuracy >= 0.88);
    CHECK(fmt::format("{:.4f}", *accuracy) == file->metadata().at("kmr.test_accuracy"));
  }
}
