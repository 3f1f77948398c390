// Measures how many Fashion-MNIST test images per second the dense baseline classifies, on
// one and two threads, through the plain forward pass and through the batched top1 meter;
// then, in the same run, the baseline quantized to 4 bits in groups of 64 and pruned to 50%
// sparsity, each computing on its stored form (compressed_mlp.h), against the dense model.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "runtime/compressed_mlp.h"
#include "runtime/fashion_mnist.h"
#include "runtime/mlp.h"
#include "runtime/model_meters.h"
#include "runtime/reference_compression.h"
#include "runtime/safetensors_reader.h"

namespace {

namespace rt = kmr::runtime;

struct Options {
  std::string model = KMR_BASELINE_MODEL;
  std::string data_dir = rt::default_fashion_mnist_dir();
  int repeats = 20;
  std::vector<int> threads = {1, 2};
  int bits = 4;
  std::int64_t group_size = 64;
  double sparsity = 0.5;
};

// Best and median seconds of `repeats` timed calls of `f`, after two untimed warm-ups.
template <class F>
std::pair<double, double> time_it(int repeats, F&& f) {
  f();
  f();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return {seconds.front(), seconds[seconds.size() / 2]};
}

int run(const Options& o) {
  kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(o.model);
  if (!file) return fmt::print(stderr, "error: {}\n", file.error().message), 1;
  kmr::Expected<rt::Mlp> model = rt::load_mlp(*file, rt::Activation::relu);
  if (!model) return fmt::print(stderr, "error: {}\n", model.error().message), 1;
  kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", -1, o.data_dir);
  if (!test) return fmt::print(stderr, "error: {}\n", test.error().message), 1;
  const double n = static_cast<double>(test->count);
  const rt::Matrix inputs = rt::dataset_rows(*test, 0, test->count);

  std::string widths;
  for (std::int64_t w : model->arch().widths) widths += (widths.empty() ? "" : "-") + std::to_string(w);
  fmt::print("model {} ({}), {} test images, best and median of {} runs\n\n", o.model, widths, test->count, o.repeats);
  fmt::print("{:<8} {:<44} {:>14} {:>14}\n", "threads", "path", "best img/s", "median img/s");
  for (int threads : o.threads) {
    Eigen::setNbThreads(threads);
    double accuracy = 0.0;
    struct Path {
      std::string name;
      std::function<void()> run;
    };
    const std::vector<Path> paths = {
        {"mlp_forward, one batch of all images", [&] { (void)rt::mlp_forward(*model, inputs); }},
        {"mlp_forward, batches of 128",
         [&] {
           for (std::int64_t first = 0; first < test->count; first += 128) {
             (void)rt::mlp_forward(*model, inputs.middleRows(first, std::min<std::int64_t>(128, test->count - first)));
           }
         }},
        {"top1 meter (batches of 1000, incl. argmax)", [&] { accuracy = *rt::top1(*model, *test); }},
    };
    for (const Path& path : paths) {
      const auto [best, median] = time_it(o.repeats, path.run);
      fmt::print("{:<8} {:<44} {:>14.0f} {:>14.0f}\n", threads, path.name, n / best, n / median);
    }
    fmt::print("{:<8} top1 = {:.4f}\n", threads, accuracy);
  }

  kmr::Expected<rt::CompressedMlp> quantized = rt::quantize_mlp(*model, o.bits, o.group_size);
  if (!quantized) return fmt::print(stderr, "error: {}\n", quantized.error().message), 1;
  kmr::Expected<rt::CompressedMlp> pruned = rt::prune_mlp(*model, o.sparsity);
  if (!pruned) return fmt::print(stderr, "error: {}\n", pruned.error().message), 1;
  struct Variant {
    std::string name;
    rt::ModelForward forward;
  };
  const std::vector<Variant> variants = {
      {"dense", rt::forward_of(*model)},
      {fmt::format("{}-bit, groups of {}", o.bits, o.group_size), rt::forward_of(*quantized)},
      {fmt::format("{:.0f}% sparse (bitmask)", 100.0 * o.sparsity), rt::forward_of(*pruned)},
  };
  fmt::print("\nthe top1 meter (batches of 1000) on each model's stored form; ratios of medians to dense\n\n");
  fmt::print("{:<8} {:<28} {:>14} {:>14} {:>9} {:>8}\n", "threads", "model", "best img/s", "median img/s", "vs dense",
             "top1");
  for (int threads : o.threads) {
    Eigen::setNbThreads(threads);
    double dense_median = 0.0;
    for (const Variant& v : variants) {
      double accuracy = 0.0;
      const auto [best, median] = time_it(o.repeats, [&] { accuracy = *rt::top1(v.forward, *test); });
      if (dense_median == 0.0) dense_median = median;
      fmt::print("{:<8} {:<28} {:>14.0f} {:>14.0f} {:>8.2f}x {:>8.4f}\n", threads, v.name, n / best, n / median,
                 dense_median / median, accuracy);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Forward-pass throughput of the Fashion-MNIST baseline, dense and compressed (images per second)."};
  app.add_option("--model", o.model, "safetensors MLP (ReLU)")->capture_default_str();
  app.add_option("--data", o.data_dir, "directory with the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("--repeats", o.repeats, "timed runs per measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--threads", o.threads, "Eigen thread counts to measure")->capture_default_str();
  app.add_option("--bits", o.bits, "bit width of the quantized model")->capture_default_str()->check(CLI::Range(2, 8));
  app.add_option("--group-size", o.group_size, "elements per scale of the quantized model")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sparsity", o.sparsity, "fraction of each weight the pruned model drops")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
