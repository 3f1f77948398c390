// Distillation: the loss and its gradient, its reduction to plain training, convergence to
// the teacher, and a short distillation of the baseline model.
#include "runtime/distillation.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "runtime/fashion_mnist.h"
#include "runtime/mlp_gradients.h"
#include "runtime/model_meters.h"
#include "runtime/safetensors_reader.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

rt::Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, float range, std::uint64_t seed) {
  rt::Rng rng(seed);
  rt::Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = (2.0f * rng.uniform01() - 1.0f) * range;
  return m;
}

using rt::testing::data_present;
using rt::testing::random_dataset;

}  // namespace

TEST_SUITE("distillation") {
  TEST_CASE("the gradient of the distillation loss matches finite differences") {
    const rt::Matrix teacher = random_matrix(4, 5, 3.0f, 1);
    const std::int32_t labels[4] = {0, 4, 2, 2};
    for (double temperature : {1.0, 2.5, 4.0}) {
      for (double alpha : {0.0, 0.3, 1.0}) {
        rt::Matrix student = random_matrix(4, 5, 3.0f, 2);
        rt::Matrix grad;
        rt::distillation_loss(student, teacher, labels, temperature, alpha, &grad);
        REQUIRE(grad.rows() == 4);
        constexpr float h = 1e-2f;
        for (Eigen::Index i = 0; i < student.size(); ++i) {
          const float saved = student.data()[i];
          student.data()[i] = saved + h;
          const double plus = rt::distillation_loss(student, teacher, labels, temperature, alpha, nullptr);
          student.data()[i] = saved - h;
          const double minus = rt::distillation_loss(student, teacher, labels, temperature, alpha, nullptr);
          student.data()[i] = saved;
          const double numeric = (plus - minus) / (2.0 * h);
          INFO("T " << temperature << " alpha " << alpha << " element " << i << ": numeric " << numeric << " analytic "
                    << grad.data()[i]);
          CHECK(std::abs(numeric - grad.data()[i]) <= 1e-4 + 1e-3 * std::abs(numeric));
        }
      }
    }
  }

  TEST_CASE("hand-checked values: a student equal to its teacher has no soft loss") {
    const rt::Matrix logits = random_matrix(3, 4, 2.0f, 5);
    const std::int32_t labels[3] = {1, 0, 3};
    rt::Matrix grad;
    CHECK(rt::distillation_loss(logits, logits, labels, 3.0, 1.0, &grad) == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(grad.cwiseAbs().maxCoeff() < 1e-7f);
    // With alpha 0 the loss and gradient are softmax_cross_entropy's, bit for bit.
    rt::Matrix ce_grad;
    const double ce = rt::softmax_cross_entropy(logits, labels, &ce_grad);
    CHECK(rt::distillation_loss(logits, random_matrix(3, 4, 2.0f, 6), labels, 1.0, 0.0, &grad) == ce);
    CHECK(grad == ce_grad);
    // Uniform teacher, uniform student at any temperature: KL 0; the mix keeps (1 − alpha) CE.
    const rt::Matrix zeros = rt::Matrix::Zero(3, 4);
    CHECK(rt::distillation_loss(zeros, zeros, labels, 2.0, 0.25, nullptr) ==
          doctest::Approx(0.75 * std::log(4.0)).epsilon(1e-12));
  }

  TEST_CASE("alpha 0, temperature 1 gives the same bits as train_epoch with the same seeds") {
    Eigen::setNbThreads(1);
    const rt::Dataset data = random_dataset(300, 6, 3, 11);
    const rt::Mlp teacher = rt::init_mlp({{6, 9, 3}, rt::Activation::tanh}, 12);
    rt::DistillSettings settings;
    settings.hidden = {8, 5};
    settings.temperature = 1.0;
    settings.alpha = 0.0;
    settings.epochs = 3;
    settings.learning_rate = 0.01f;
    settings.seed = 99;
    settings.batch_size = 32;
    std::vector<double> distill_losses;
    kmr::Expected<rt::Mlp> student =
        rt::distill(teacher, data, settings, [&](const rt::DistillProgress& p, const rt::Mlp&) {
          CHECK(p.epoch == static_cast<int>(distill_losses.size()) + 1);
          CHECK(p.epochs == 3);
          distill_losses.push_back(p.mean_loss);
        });
    REQUIRE(student.ok());

    rt::Mlp model = rt::init_mlp({{6, 8, 5, 3}, rt::Activation::tanh}, 99);
    rt::AdamOptimizer adam(model, rt::AdamSettings{0.01f});
    rt::Rng order(99 ^ 0x5eed5eed5eed5eedull);
    std::vector<double> train_losses;
    for (int epoch = 0; epoch < 3; ++epoch)
      train_losses.push_back(rt::train_epoch(model, adam, data, 32, order)->mean_loss);

    CHECK(distill_losses == train_losses);
    REQUIRE(student->layers.size() == 3);
    for (std::size_t l = 0; l < 3; ++l) {
      CHECK(student->layers[l].weight == model.layers[l].weight);
      CHECK(student->layers[l].bias == model.layers[l].bias);
    }
  }

  TEST_CASE("with alpha 1 the student's outputs approach the teacher's, reproducibly") {
    Eigen::setNbThreads(1);
    const rt::Dataset data = random_dataset(256, 4, 3, 21);
    rt::Mlp teacher = rt::init_mlp({{4, 12, 3}, rt::Activation::tanh}, 22);
    for (rt::DenseLayer& layer : teacher.layers) layer.weight *= 3.0f;  // confident, varied outputs
    rt::DistillSettings settings;
    settings.hidden = {12};
    settings.temperature = 1.0;
    settings.alpha = 1.0;
    settings.epochs = 0;
    settings.learning_rate = 0.02f;
    settings.seed = 23;
    settings.batch_size = 32;

    const rt::Matrix t = *rt::model_logits(rt::forward_of(teacher), data);
    auto soft_loss = [&](const rt::Mlp& student) {
      return rt::distillation_loss(*rt::model_logits(rt::forward_of(student), data), t, data.labels.data(), 1.0, 1.0,
                                   nullptr);
    };
    const rt::Mlp fresh = *rt::distill(teacher, data, settings);
    settings.epochs = 150;
    const rt::Mlp trained = *rt::distill(teacher, data, settings);
    const double before = soft_loss(fresh);
    const double after = soft_loss(trained);
    INFO("KL before " << before << ", after " << after);
    CHECK(after < 0.05 * before);
    CHECK(*rt::agreement(trained, teacher, data) > 0.95);
    const rt::Mlp again = *rt::distill(teacher, data, settings);
    for (std::size_t l = 0; l < again.layers.size(); ++l) CHECK(again.layers[l].weight == trained.layers[l].weight);
  }

  TEST_CASE("settings and data that do not fit are errors naming the setting") {
    const rt::Mlp teacher = rt::init_mlp({{4, 3}, rt::Activation::relu}, 1);
    const rt::Dataset data = random_dataset(10, 4, 3, 2);
    rt::DistillSettings s;
    s.hidden = {5};
    auto error = [&](const rt::DistillSettings& settings, const rt::Dataset& d = {}) {
      kmr::Expected<rt::Mlp> r = rt::distill(teacher, d.count ? d : data, settings);
      REQUIRE_FALSE(r.ok());
      return r.error().message;
    };
    rt::DistillSettings bad = s;
    bad.temperature = 0.0;
    CHECK(error(bad) == "distill: temperature must be positive and finite, not 0.000000");
    bad = s;
    bad.alpha = 1.5;
    CHECK(error(bad) == "distill: alpha must lie in [0, 1], not 1.500000");
    bad = s;
    bad.hidden = {5, 0};
    CHECK(error(bad) == "distill: hidden width 0 is not positive");
    bad = s;
    bad.epochs = -1;
    CHECK(error(bad) == "distill: epochs must not be negative");
    bad = s;
    bad.learning_rate = 0.0f;
    CHECK(error(bad) == "distill: the learning rate must be positive and finite");
    CHECK(error(s, random_dataset(10, 5, 3, 2)) == "distill: the data has 5 features but the model takes 4 inputs");
    rt::Dataset wrong_label = data;
    wrong_label.labels[0] = 3;
    CHECK(error(s, wrong_label) == "distill: label 3 is outside the teacher's 3 outputs");
    // No hidden layers: the student is a single linear layer.
    s.hidden.clear();
    s.epochs = 1;
    CHECK(rt::distill(teacher, data, s)->arch().widths == std::vector<std::int64_t>{4, 3});
  }

  TEST_CASE("distilling the baseline into 784-64-32-10 on 4,000 images reaches a sane accuracy" *
            doctest::skip(!data_present())) {
    Eigen::setNbThreads(1);
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE(file.ok());
    const rt::Mlp teacher = *rt::load_mlp(*file, rt::Activation::relu);
    kmr::Expected<rt::Dataset> train = rt::load_fashion_mnist("train", 4000);
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", 2000);
    REQUIRE((train.ok() && test.ok()));

    rt::DistillSettings settings;
    settings.hidden = {64, 32};
    settings.temperature = 4.0;
    settings.alpha = 0.7;
    settings.epochs = 8;
    settings.learning_rate = 2e-3f;
    settings.seed = 1;
    int reports = 0;
    const auto start = std::chrono::steady_clock::now();
    kmr::Expected<rt::Mlp> student =
        rt::distill(teacher, *train, settings, [&](const rt::DistillProgress& p, const rt::Mlp&) {
          ++reports;
          MESSAGE("epoch " << p.epoch << "/" << p.epochs << " loss " << p.mean_loss << " train_acc " << p.accuracy);
        });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(student.ok());
    CHECK(reports == 8);
    CHECK(student->arch().widths == std::vector<std::int64_t>{784, 64, 32, 10});
    const double accuracy = *rt::top1(*student, *test);
    const double teacher_accuracy = *rt::top1(teacher, *test);
    MESSAGE("student " << accuracy << " vs teacher " << teacher_accuracy << " on 2,000 test images; distilled in "
                       << seconds << " s");
    CHECK(accuracy > 0.70);  // measured: 0.81 (the teacher: 0.906)
    CHECK(*rt::agreement(*student, teacher, *test) > 0.75);
  }
}
