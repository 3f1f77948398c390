// Truncated SVD factors: full-rank round trips, the Eckart–Young error, costs, and the
// factored forward pass.
#include "runtime/low_rank.h"

#include <doctest/doctest.h>

#include <Eigen/SVD>
#include <cmath>

#include "runtime/random.h"
#include "runtime/safetensors_reader.h"

namespace rt = kmr::runtime;

namespace {

rt::Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  rt::Rng rng(seed);
  rt::Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = 2.0f * rng.uniform01() - 1.0f;
  return m;
}

double relative_error(const rt::Matrix& approx, const rt::Matrix& exact) {
  return (approx.cast<double>() - exact.cast<double>()).norm() / exact.cast<double>().norm();
}

}  // namespace

TEST_SUITE("low_rank") {
  TEST_CASE("full rank reproduces the weights within 1e-5 relative error") {
    Eigen::setNbThreads(1);
    for (auto [rows, cols] : {std::pair<int, int>{40, 30}, {30, 40}, {1, 17}, {64, 64}}) {
      const rt::Matrix w = random_matrix(rows, cols, 7 + rows);
      const std::int64_t full = std::min(rows, cols);
      kmr::Expected<rt::LowRankFactors> f = rt::truncated_svd(w, full);
      REQUIRE(f.ok());
      CHECK(f->a.rows() == rows);
      CHECK(f->a.cols() == full);
      CHECK(f->b.rows() == full);
      CHECK(f->b.cols() == cols);
      INFO(rows << "x" << cols);
      CHECK(relative_error(rt::low_rank_product(*f), w) < 1e-5);
    }
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(KMR_BASELINE_MODEL);
    REQUIRE(file.ok());
    kmr::Expected<rt::Mlp> baseline = rt::load_mlp(*file, rt::Activation::relu);
    REQUIRE(baseline.ok());
    const rt::Matrix& fc2 = baseline->layers[1].weight;  // 128 x 256
    kmr::Expected<rt::LowRankFactors> f = rt::truncated_svd(fc2, 128);
    REQUIRE(f.ok());
    CHECK(relative_error(rt::low_rank_product(*f), fc2) < 1e-5);
  }

  TEST_CASE("rank r leaves exactly the tail singular values as error (Eckart–Young)") {
    Eigen::setNbThreads(1);
    const rt::Matrix w = random_matrix(50, 40, 3);
    const Eigen::VectorXd exact = Eigen::JacobiSVD<Eigen::MatrixXd>(w.cast<double>()).singularValues();
    for (std::int64_t rank : {1, 5, 20, 39}) {
      kmr::Expected<rt::LowRankFactors> f = rt::truncated_svd(w, rank);
      REQUIRE(f.ok());
      CHECK(f->singular_values.size() == 40);
      // BDCSVD and an independent JacobiSVD agree on the spectrum.
      CHECK((f->singular_values - exact).norm() < 1e-10 * exact.norm());
      const double predicted = rt::truncation_error(f->singular_values, rank);
      const double tail = std::sqrt(exact.tail(40 - rank).squaredNorm());
      CHECK(predicted == doctest::Approx(tail).epsilon(1e-12));
      const double error = (rt::low_rank_product(*f).cast<double>() - w.cast<double>()).norm();
      INFO("rank " << rank << ": error " << error << ", tail " << tail);
      // f32 factors add ~1e-7 relative to ‖W‖ (≈ 16 here), far below any tail.
      CHECK(std::abs(error - tail) < 1e-5 * w.cast<double>().norm());
      // The singular values are split evenly: column i of A and row i of B have norm sqrt(s_i).
      for (Eigen::Index i = 0; i < rank; ++i) {
        CHECK(f->a.col(i).norm() == doctest::Approx(std::sqrt(exact[i])).epsilon(1e-5));
        CHECK(f->b.row(i).norm() == doctest::Approx(std::sqrt(exact[i])).epsilon(1e-5));
      }
    }
    // Descending, and the error of each rank never grows with the rank.
    kmr::Expected<rt::LowRankFactors> f = rt::truncated_svd(w, 1);
    for (Eigen::Index i = 1; i < 40; ++i) CHECK(f->singular_values[i] <= f->singular_values[i - 1]);
    CHECK(rt::truncation_error(f->singular_values, 40) == 0.0);
  }

  TEST_CASE("the factorisation is deterministic and rejects bad ranks and non-finite weights") {
    Eigen::setNbThreads(1);
    const rt::Matrix w = random_matrix(33, 21, 5);
    kmr::Expected<rt::LowRankFactors> a = rt::truncated_svd(w, 8);
    kmr::Expected<rt::LowRankFactors> b = rt::truncated_svd(w, 8);
    REQUIRE((a.ok() && b.ok()));
    CHECK(a->a == b->a);
    CHECK(a->b == b->b);
    CHECK(rt::truncated_svd(w, 0).error().message == "rank 0 is outside [1, 21] for a 33 x 21 matrix");
    CHECK(rt::truncated_svd(w, 22).error().message == "rank 22 is outside [1, 21] for a 33 x 21 matrix");
    rt::Matrix bad = w;
    bad(3, 4) = std::nanf("");
    CHECK(rt::truncated_svd(bad, 2).error().message == "the matrix has a non-finite value: its SVD is undefined");
  }

  TEST_CASE("parameter and FLOP counts of dense and factored layers") {
    CHECK(rt::dense_layer_cost(256, 784).params == 256 * 784 + 256);
    CHECK(rt::dense_layer_cost(256, 784).flops == 2 * 256 * 784 + 256);
    CHECK(rt::low_rank_layer_cost(256, 784, 16).params == 16 * (256 + 784) + 256);
    CHECK(rt::low_rank_layer_cost(256, 784, 16).flops == 2 * 16 * (256 + 784) + 256);
    // 192 * 1040 = 199680 < 200704 = 256 * 784 <= 193 * 1040
    CHECK(rt::break_even_rank(256, 784) == 192);
    CHECK(rt::break_even_rank(2, 2) == 0);  // 1 * 4 is not fewer than 4
    CHECK(rt::break_even_rank(3, 3) == 1);
  }

  TEST_CASE("an MLP with factored layers: its forward pass, densified twin, cost and errors") {
    Eigen::setNbThreads(1);
    const rt::Mlp model = rt::init_mlp({{12, 10, 8, 3}, rt::Activation::tanh}, 4);
    kmr::Expected<rt::FactoredMlp> factored = rt::factor_mlp(model, {4, 0, 3});
    REQUIRE(factored.ok());
    CHECK(std::holds_alternative<rt::LowRankLayer>(factored->layers[0]));
    CHECK(std::holds_alternative<rt::DenseLayer>(factored->layers[1]));
    CHECK(factored->arch().widths == std::vector<std::int64_t>{12, 10, 8, 3});
    const rt::LayerCost cost = factored->cost();
    CHECK(cost.params == (4 * 22 + 10) + (80 + 8) + (3 * 11 + 3));
    CHECK(cost.flops == (8 * 22 + 10) + (160 + 8) + (6 * 11 + 3));

    const rt::Matrix x = random_matrix(9, 12, 11);
    const rt::Matrix y = rt::factored_mlp_forward(*factored, x);
    const rt::Matrix dense = rt::mlp_forward(rt::densify(*factored), x);
    CHECK(relative_error(y, dense) < 1e-5);
    // Truncation changes the outputs, but full ranks reproduce the model.
    CHECK(relative_error(y, rt::mlp_forward(model, x)) > 1e-3);
    kmr::Expected<rt::FactoredMlp> full = rt::factor_mlp(model, {10, 8, 3});
    REQUIRE(full.ok());
    CHECK(relative_error(rt::factored_mlp_forward(*full, x), rt::mlp_forward(model, x)) < 1e-5);

    const rt::ModelForward forward = rt::forward_of(*factored);
    CHECK(forward.widths == std::vector<std::int64_t>{12, 10, 8, 3});
    std::vector<rt::Matrix> outputs;
    forward.layer_outputs(x, outputs);
    REQUIRE(outputs.size() == 3);
    CHECK(outputs.back() == y);

    CHECK(rt::factor_mlp(model, {4, 0}).error().message == "lowrank: 2 ranks given for a model of 3 layers");
    CHECK(rt::factor_mlp(model, {4, 9, 0}).error().message ==
          "lowrank: fc2.weight: rank 9 is outside [1, 8] for a 8 x 10 matrix");
  }
}
