// The task meters on models small enough to check by hand, and their independence of the
// thread count and batching.
#include "runtime/model_meters.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "runtime/random.h"

namespace rt = kmr::runtime;

namespace {

// One linear layer y = x Wᵀ (no bias, no activation): the logits are x Wᵀ.
rt::Mlp linear_model(const rt::Matrix& w) {
  rt::Mlp m;
  m.layers.push_back({w, Eigen::VectorXf::Zero(w.rows())});
  return m;
}

rt::Dataset dataset(std::int64_t features, const std::vector<float>& inputs, const std::vector<std::int32_t>& labels) {
  rt::Dataset d;
  d.features = features;
  d.count = static_cast<std::int64_t>(labels.size());
  d.inputs = inputs;
  d.labels = labels;
  d.num_classes = 3;
  return d;
}

rt::Dataset random_dataset(std::int64_t count, std::int64_t features, std::int32_t classes, std::uint64_t seed) {
  rt::Rng rng(seed);
  rt::Dataset d;
  d.count = count;
  d.features = features;
  d.num_classes = classes;
  for (std::int64_t i = 0; i < count * features; ++i) d.inputs.push_back(rng.uniform01());
  for (std::int64_t i = 0; i < count; ++i) d.labels.push_back(static_cast<std::int32_t>(rng.below(classes)));
  return d;
}

}  // namespace

TEST_SUITE("model_meters") {
  TEST_CASE("top1, loss and agreement of an identity model on hand-made logits") {
    const rt::Mlp identity = linear_model(rt::Matrix::Identity(3, 3));
    // Logits are the inputs. Predictions: 0, 2, 1 (the first of two tied maxima), 0.
    const float ln3 = std::log(3.0f);
    const rt::Dataset data = dataset(3, {ln3, 0, 0, /**/ 0, 0, 1, /**/ 0, 5, 5, /**/ 0, 0, 0}, {0, 2, 2, 0});
    rt::MeterOptions options;
    options.batch_size = 3;                             // two batches, the last of one example
    CHECK(*rt::top1(identity, data, options) == 0.75);  // row 3 misses

    // Cross-entropy per row: −log(3/5), −log(e/(e+2)), −log(e^5/(2e^5+1)), log 3.
    const double e = std::exp(1.0);
    const double expected = (-std::log(3.0 / 5.0) - std::log(e / (e + 2.0)) -
                             std::log(std::exp(5.0) / (2.0 * std::exp(5.0) + 1.0)) + std::log(3.0)) /
                            4.0;
    CHECK(*rt::loss(identity, data, options) == doctest::Approx(expected).epsilon(1e-6));

    // The reference swaps outputs 1 and 2: predictions 0, 1, 1, 0 against 0, 2, 1, 0.
    rt::Matrix swap = rt::Matrix::Zero(3, 3);
    swap(0, 0) = swap(1, 2) = swap(2, 1) = 1.0f;
    CHECK(*rt::agreement(identity, linear_model(swap), data, options) == 0.75);
    CHECK(*rt::agreement(identity, identity, data, options) == 1.0);
  }

  TEST_CASE("output_error is the relative drift of each layer's outputs, averaged over layers") {
    Eigen::setNbThreads(1);
    rt::Mlp reference = rt::init_mlp({{6, 5, 4}, rt::Activation::relu}, 3);
    for (rt::DenseLayer& layer : reference.layers) layer.bias.setZero();
    const rt::Dataset calib = random_dataset(20, 6, 4, 8);

    // ReLU is positively homogeneous and the biases are zero, so scaling fc1 by 1.5 scales
    // every later output by 1.5 too: a drift of 0.5 on both layers.
    rt::Mlp scaled = reference;
    scaled.layers[0].weight *= 1.5f;
    kmr::Expected<rt::OutputError> e = rt::output_error(scaled, reference, calib);
    REQUIRE(e.ok());
    REQUIRE(e->per_layer.size() == 2);
    CHECK(e->per_layer[0] == doctest::Approx(0.5).epsilon(1e-6));
    CHECK(e->per_layer[1] == doctest::Approx(0.5).epsilon(1e-6));
    CHECK(e->mean == doctest::Approx(0.5).epsilon(1e-6));

    // Scaling only fc2 by 0.75 leaves fc1 exact: per layer {0, 0.25}, mean 0.125.
    rt::Mlp last = reference;
    last.layers[1].weight *= 0.75f;
    e = rt::output_error(last, reference, calib);
    REQUIRE(e.ok());
    CHECK(e->per_layer[0] == 0.0);
    CHECK(e->per_layer[1] == doctest::Approx(0.25).epsilon(1e-6));
    CHECK(e->mean == doctest::Approx(0.125).epsilon(1e-6));
    CHECK(rt::output_error(reference, reference, calib)->mean == 0.0);

    // A reference whose outputs are all zero: 0 when the model's are too, else infinite.
    const rt::Mlp zero = linear_model(rt::Matrix::Zero(4, 6));
    CHECK(rt::output_error(zero, zero, calib)->mean == 0.0);
    CHECK(rt::output_error(linear_model(rt::Matrix::Ones(4, 6)), zero, calib)->mean ==
          std::numeric_limits<double>::infinity());
  }

  TEST_CASE("meters are deterministic for a thread count and agree across thread counts") {
    // Bit-identical results across thread counts were seen to depend on the build (one
    // binary agreed, another differed in the last bits): promise determinism per thread
    // count, and agreement to rounding across them.
    const rt::Mlp model = rt::init_mlp({{784, 256, 32, 5}, rt::Activation::gelu}, 21);
    rt::Mlp other = model;
    other.layers[1].weight *= 1.01f;
    const rt::Dataset data = random_dataset(800, 784, 5, 22);
    rt::MeterOptions options;
    options.batch_size = 200;  // 4 batches

    double values[2][4];
    for (int threads : {1, 2}) {
      Eigen::setNbThreads(threads);
      for (int repeat = 0; repeat < 2; ++repeat) {
        double* v = values[threads - 1];
        double again[4] = {*rt::top1(model, data, options), *rt::loss(model, data, options),
                           *rt::agreement(other, model, data, options),
                           rt::output_error(other, model, data, options)->mean};
        if (repeat == 1)
          for (int i = 0; i < 4; ++i) CHECK(again[i] == v[i]);
        for (int i = 0; i < 4; ++i) v[i] = again[i];
      }
    }
    Eigen::setNbThreads(1);
    for (int i = 0; i < 4; ++i) CHECK(values[0][i] == doctest::Approx(values[1][i]).epsilon(1e-5));  // f32 products
    CHECK(values[0][0] == *rt::top1_accuracy(model, data, 200));
    CHECK(values[0][2] > 0.9);
    CHECK(values[0][3] > 0.0);
    // Other batch sizes change only the last bits of the products.
    options.batch_size = 7;
    CHECK(*rt::top1(model, data, options) == values[0][0]);
    CHECK(*rt::loss(model, data, options) == doctest::Approx(values[0][1]).epsilon(1e-6));

    // The logits of forward_of are mlp_forward's own bits.
    const rt::Matrix x = rt::dataset_rows(data, 0, 50);
    std::vector<rt::Matrix> outputs;
    rt::forward_of(model).layer_outputs(x, outputs);
    CHECK(outputs.back() == rt::mlp_forward(model, x));
    kmr::Expected<rt::Matrix> logits = rt::model_logits(rt::forward_of(model), data, 50);
    REQUIRE(logits.ok());
    CHECK(logits->rows() == 800);
    CHECK(logits->topRows(50) == rt::mlp_forward(model, x));  // batches of the same shape: the same bits
  }

  TEST_CASE("meters reject data and models that do not fit") {
    const rt::Mlp model = rt::init_mlp({{4, 3}, rt::Activation::relu}, 1);
    rt::Dataset data = random_dataset(10, 4, 3, 2);
    rt::Dataset empty = data;
    empty.count = 0;
    empty.inputs.clear();
    empty.labels.clear();
    CHECK(rt::top1(model, empty).error().message == "top1: the data set is empty");
    CHECK(rt::loss(model, random_dataset(5, 5, 3, 2)).error().message ==
          "loss: the data has 5 features but the model takes 4 inputs");
    data.labels[7] = 3;
    CHECK(rt::loss(model, data).error().message == "loss: label 3 of example 7 is outside the model's 3 outputs");
    CHECK(rt::top1(model, data, rt::MeterOptions{0}).error().message == "top1: batch size must be positive");
    CHECK(rt::agreement(model, model, data).ok());  // labels are not used
    const rt::Mlp wider = rt::init_mlp({{4, 5}, rt::Activation::relu}, 1);
    CHECK(rt::agreement(model, wider, data).error().message ==
          "agreement: the model has 3 outputs but the reference has 5");
    CHECK(rt::output_error(model, wider, data).error().message ==
          "output_error: the model's layer widths 4-3 differ from the reference's 4-5");
    CHECK_FALSE(rt::top1(rt::Mlp{}, data).ok());
  }
}
