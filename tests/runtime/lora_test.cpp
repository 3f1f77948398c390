// LoRA adapters: the untrained model is the base, gradients match finite differences, and
// training recovers accuracy lost to damaged weights.
#include "runtime/lora.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "runtime/fashion_mnist.h"
#include "runtime/mlp_gradients.h"
#include "runtime/model_meters.h"
#include "runtime/random.h"
#include "runtime/safetensors_reader.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

using rt::testing::data_present;
using rt::testing::random_dataset;

}  // namespace

TEST_SUITE("lora") {
  TEST_CASE("with zero steps the adapted model is the base model, bit for bit") {
    Eigen::setNbThreads(1);
    const rt::Mlp base = rt::init_mlp({{7, 9, 5, 3}, rt::Activation::relu}, 3);
    const rt::Dataset data = random_dataset(40, 7, 3, 4);
    rt::LoraSettings settings;
    settings.rank = 2;
    settings.steps = 0;
    kmr::Expected<rt::LoraModel> adapted = rt::lora(base, data, settings);
    REQUIRE(adapted.ok());
    REQUIRE(adapted->adapters.size() == 3);
    CHECK(adapted->adapters[0].a.rows() == 2);
    CHECK(adapted->adapters[0].a.cols() == 7);
    CHECK(adapted->adapters[0].a.cwiseAbs().maxCoeff() > 0.0f);  // A random, B zero
    CHECK(adapted->adapters[2].b.rows() == 3);
    CHECK(adapted->adapters[2].b.isZero(0.0f));
    CHECK(adapted->scale == 1.0f);
    const rt::Mlp merged = rt::merge_lora(*adapted);
    for (std::size_t l = 0; l < 3; ++l) CHECK(merged.layers[l].weight == base.layers[l].weight);
    const rt::Matrix x = rt::dataset_rows(data, 0, data.count);
    CHECK(rt::lora_forward(*adapted, x) == rt::mlp_forward(base, x));
    CHECK(*rt::top1(rt::forward_of(*adapted), data) == *rt::top1(base, data));
    CHECK(rt::init_lora(base, 4, 8.0f, 0).scale == 2.0f);  // alpha / rank
  }

  TEST_CASE("the gradients of A and B match finite differences") {
    Eigen::setNbThreads(1);
    for (rt::Activation act : {rt::Activation::tanh, rt::Activation::gelu}) {
      rt::LoraModel model = rt::init_lora(rt::init_mlp({{5, 7, 6, 4}, act}, 8), 3, 6.0f, 9);
      // Nonzero B, or every gradient of A would be zero.
      rt::Rng rng(10);
      for (rt::LoraAdapter& adapter : model.adapters) {
        for (Eigen::Index i = 0; i < adapter.b.size(); ++i)
          adapter.b.data()[i] = 0.5f * (2.0f * rng.uniform01() - 1.0f);
      }
      const rt::Dataset data = random_dataset(4, 5, 4, 11);
      const rt::Matrix x = rt::dataset_rows(data, 0, 4);
      rt::LoraTrace trace;
      rt::Matrix dlogits;
      rt::softmax_cross_entropy(rt::lora_forward_traced(model, x, trace), data.labels.data(), &dlogits);
      const rt::LoraGradients grads = rt::lora_backward(model, trace, dlogits);
      auto loss = [&] { return rt::softmax_cross_entropy(rt::lora_forward(model, x), data.labels.data(), nullptr); };

      int checked = 0;
      auto check = [&](float& param, float analytic, const char* what, std::size_t layer) {
        constexpr float h = 1e-2f;
        const float saved = param;
        param = saved + h;
        const double plus = loss();
        param = saved - h;
        const double minus = loss();
        param = saved;
        const double numeric = (plus - minus) / (2.0 * h);
        INFO(what << " of fc" << layer + 1 << ": numeric " << numeric << " analytic " << analytic);
        CHECK(std::abs(numeric - analytic) <= 2e-4 + 1e-2 * std::abs(numeric));
        ++checked;
      };
      for (std::size_t l = 0; l < 3; ++l) {
        rt::LoraAdapter& adapter = model.adapters[l];
        for (Eigen::Index i = 0; i < adapter.a.size(); ++i) check(adapter.a.data()[i], grads.a[l].data()[i], "A", l);
        for (Eigen::Index i = 0; i < adapter.b.size(); ++i) check(adapter.b.data()[i], grads.b[l].data()[i], "B", l);
      }
      CHECK(checked == 3 * (5 + 7 + 6) + 3 * (7 + 6 + 4));
      // The merged model computes the same function.
      CHECK((rt::mlp_forward(rt::merge_lora(model), x) - rt::lora_forward(model, x)).norm() < 1e-5f);
    }
  }

  TEST_CASE("training is reproducible, reports progress and validates its settings") {
    Eigen::setNbThreads(1);
    const rt::Mlp base = rt::init_mlp({{6, 8, 3}, rt::Activation::relu}, 1);
    const rt::Dataset data = random_dataset(100, 6, 3, 2);
    rt::LoraSettings s;
    s.rank = 2;
    s.steps = 25;
    s.batch_size = 16;  // 7 batches a pass: the 8th step starts a new permutation
    s.report_every = 10;
    s.learning_rate = 0.01f;
    std::vector<std::int64_t> reported;
    const rt::LoraModel a = *rt::lora(base, data, s, [&](const rt::LoraProgress& p, const rt::LoraModel&) {
      reported.push_back(p.step);
      CHECK(p.steps == 25);
      CHECK(std::isfinite(p.mean_loss));
    });
    CHECK(reported == std::vector<std::int64_t>{10, 20, 25});
    const rt::LoraModel b = *rt::lora(base, data, s);
    for (std::size_t l = 0; l < 2; ++l) {
      CHECK(a.adapters[l].a == b.adapters[l].a);
      CHECK(a.adapters[l].b == b.adapters[l].b);
      CHECK_FALSE(a.adapters[l].b.isZero(0.0f));
      CHECK(a.base.layers[l].weight == base.layers[l].weight);  // frozen
      CHECK(a.base.layers[l].bias == base.layers[l].bias);
    }

    const std::vector<rt::TensorToWrite> tensors = rt::lora_tensors(a);
    REQUIRE(tensors.size() == 4);
    CHECK(tensors[0].name == "fc1.lora_A.weight");
    CHECK(tensors[0].shape == std::vector<std::int64_t>{2, 6});
    CHECK(tensors[3].name == "fc2.lora_B.weight");
    CHECK(tensors[3].shape == std::vector<std::int64_t>{3, 2});
    CHECK(tensors[3].data.size == 3 * 2 * sizeof(float));

    rt::LoraSettings bad = s;
    bad.rank = 0;
    CHECK(rt::lora(base, data, bad).error().message == "lora: rank must be at least 1, not 0");
    bad = s;
    bad.steps = -1;
    CHECK(rt::lora(base, data, bad).error().message == "lora: steps must not be negative");
    CHECK(rt::lora(base, random_dataset(5, 7, 3, 1), s).error().message ==
          "lora: the data has 7 features but the model takes 6 inputs");
    rt::Dataset wrong = data;
    wrong.labels[3] = 5;
    CHECK(rt::lora(base, wrong, s).error().message == "lora: label 5 is outside the model's 3 outputs");
  }

  TEST_CASE("a few hundred steps recover accuracy lost to noise on the baseline's fc2" *
            doctest::skip(!data_present())) {
    Eigen::setNbThreads(1);
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE(file.ok());
    const rt::Mlp baseline = *rt::load_mlp(*file, rt::Activation::relu);
    kmr::Expected<rt::Dataset> train = rt::load_fashion_mnist("train", 5000);
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", 2000);
    REQUIRE((train.ok() && test.ok()));

    // Quantisation-like damage: the rounding error of 2-bit levels {-m, 0, m}, m = max |w|,
    // simulated as uniform noise in ±m/2. It costs about ten points of accuracy.
    rt::Mlp damaged = baseline;
    rt::Matrix& w = damaged.layers[1].weight;
    const float step = w.cwiseAbs().maxCoeff();
    rt::Rng rng(5);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] += (rng.uniform01() - 0.5f) * step;

    const double clean = *rt::top1(baseline, *test);
    const double before = *rt::top1(damaged, *test);
    rt::LoraSettings settings;
    settings.rank = 8;
    settings.steps = 300;
    settings.learning_rate = 1e-3f;
    settings.seed = 6;
    const auto start = std::chrono::steady_clock::now();
    kmr::Expected<rt::LoraModel> adapted = rt::lora(damaged, *train, settings);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(adapted.ok());
    const double after = *rt::top1(rt::forward_of(*adapted), *test);
    MESSAGE("baseline " << clean << ", damaged " << before << ", after LoRA " << after << " (" << seconds << " s)");
    CHECK(before < clean - 0.05);
    CHECK(after > before + 0.05);  // measured: 0.800 -> 0.9005 (baseline 0.906)
    CHECK(*rt::top1(rt::merge_lora(*adapted), *test) == doctest::Approx(after).epsilon(0.002));
  }
}
