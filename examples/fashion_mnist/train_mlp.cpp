// Trains the baseline 784-256-128-10 ReLU MLP on Fashion-MNIST and saves it as safetensors.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/fashion_mnist.h"
#include "runtime/mlp.h"
#include "runtime/mlp_training.h"
#include "runtime/safetensors_writer.h"

namespace {

namespace rt = kmr::runtime;

struct Options {
  std::string data_dir = rt::default_fashion_mnist_dir();
  std::string out = "mlp.safetensors";
  std::uint64_t seed = 20250101;
  int epochs = 15;
  std::int64_t batch_size = 128;
  float learning_rate = 1e-3f;
  // L1 shrinkage leaves the weights the loss does not need at or near zero, so magnitude
  // pruning and low bit widths cost the policies little accuracy (README: "Why L1").
  float l1 = 0.02f;
  int threads = 1;
};

std::string format_settings(const Options& o) {
  return fmt::format(
      "adam lr={} beta1=0.9 beta2=0.999 eps=1e-8 weight_decay=0, L1 proximal step after each "
      "update (every weight matrix entry moves lr*{} towards zero and stops there), learning rate decayed "
      "linearly per epoch (epoch e of E uses lr*(E-e+1)/E), batch_size={}, mean cross-entropy "
      "loss, examples reshuffled every epoch",
      o.learning_rate, o.l1, o.batch_size);
}

int run(const Options& o) {
  // Eigen picks its GEMM blocking from the cache sizes it detects; fixing them makes the
  // summation order, and so the trained bits, the same on every machine.
  Eigen::setCpuCacheSizes(32 * 1024, 1024 * 1024, 8 * 1024 * 1024);
  Eigen::setNbThreads(o.threads);

  kmr::Expected<rt::Dataset> train = rt::load_fashion_mnist("train", -1, o.data_dir);
  if (!train) return fmt::print(stderr, "error: {}\n", train.error().message), 1;
  kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", -1, o.data_dir);
  if (!test) return fmt::print(stderr, "error: {}\n", test.error().message), 1;
  fmt::print("fashion-mnist: {} train, {} test examples from {}\n", train->count, test->count, o.data_dir);

  const rt::MlpArch arch{{784, 256, 128, 10}, rt::Activation::relu};
  rt::Mlp model = rt::init_mlp(arch, o.seed);
  rt::AdamSettings adam;
  adam.learning_rate = o.learning_rate;
  adam.l1 = o.l1;
  rt::AdamOptimizer optimizer(model, adam);
  rt::Rng shuffle_rng(o.seed ^ 0x5eed5eed5eed5eedull);

  const auto start = std::chrono::steady_clock::now();
  double test_accuracy = 0.0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    // Linear decay: plain arithmetic, so the schedule is identical wherever it runs.
    optimizer.set_learning_rate(o.learning_rate * static_cast<float>(o.epochs - epoch + 1) /
                                static_cast<float>(o.epochs));
    kmr::Expected<rt::EpochStats> stats = rt::train_epoch(model, optimizer, *train, o.batch_size, shuffle_rng);
    if (!stats) return fmt::print(stderr, "error: {}\n", stats.error().message), 1;
    kmr::Expected<double> accuracy = rt::top1_accuracy(model, *test);
    if (!accuracy) return fmt::print(stderr, "error: {}\n", accuracy.error().message), 1;
    test_accuracy = *accuracy;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("epoch {:2}/{}  loss {:.4f}  train_acc {:.4f}  test_acc {:.4f}  [{:.1f} s]\n", epoch, o.epochs,
               stats->mean_loss, static_cast<double>(stats->correct) / static_cast<double>(stats->examples),
               test_accuracy, seconds);
    std::fflush(stdout);
  }

  const std::int64_t correct = static_cast<std::int64_t>(test_accuracy * static_cast<double>(test->count) + 0.5);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"kmr.model", "mlp"},
      {"kmr.arch",
       "784-256-128-10 relu: fcN.weight [out, in] and fcN.bias [out] are F32, y = x W^T + b "
       "(torch.nn.Linear), relu after fc1 and fc2, fc3 gives logits"},
      {"kmr.activation", "relu"},
      {"kmr.input", "fashion-mnist 28x28 images: the 784 pixels row-major, divided by 255, nothing else"},
      {"kmr.classes",
       "0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, "
       "8 Bag, 9 Ankle boot"},
      {"kmr.trainer", fmt::format("examples/fashion_mnist/train_mlp (kmr_runtime), {} Eigen thread(s)", o.threads)},
      {"kmr.train_data", fmt::format("fashion-mnist train, {} examples", train->count)},
      {"kmr.seed", std::to_string(o.seed)},
      {"kmr.epochs", std::to_string(o.epochs)},
      {"kmr.optimizer", format_settings(o)},
      {"kmr.init", "torch.nn.Linear style: weights and biases uniform in +-1/sqrt(fan_in), xoshiro256** seeded"},
      {"kmr.test_accuracy", fmt::format("{:.4f}", test_accuracy)},
      {"kmr.test_correct", fmt::format("{}/{}", correct, test->count)},
  };
  kmr::Status saved = rt::write_safetensors(o.out, rt::mlp_tensors(model), metadata);
  if (!saved) return fmt::print(stderr, "error: {}\n", saved.error().message), 1;
  fmt::print("test accuracy {:.4f} ({}/{}); wrote {}\n", test_accuracy, correct, test->count, o.out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Train the baseline Fashion-MNIST MLP (784-256-128-10, ReLU) and save it as safetensors."};
  app.add_option("--data", o.data_dir, "directory with the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("-o,--out", o.out, "output safetensors path")->capture_default_str();
  app.add_option("--seed", o.seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--epochs", o.epochs, "passes over the training set")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--batch-size", o.batch_size, "examples per step")->capture_default_str()->check(CLI::Range(1, 60000));
  app.add_option("--lr", o.learning_rate, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--l1", o.l1, "L1 shrinkage of the weight matrices per step, times the learning rate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", o.threads, "Eigen threads (1 = bit-for-bit reproducible)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
