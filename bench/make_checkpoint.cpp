// make_checkpoint: writes a synthetic LLaMA-shaped safetensors checkpoint of a given size,
// for benchmarks and for trying kmrc on something model-sized.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>

#include "runtime/safetensors_writer.h"
#include "synthetic_checkpoint.h"

namespace rt = kmr::runtime;

int main(int argc, char** argv) {
  CLI::App app{"make_checkpoint: a seeded synthetic transformer checkpoint"};
  std::string out, size = "1GiB", dtype_text = "F32";
  std::uint64_t seed = 1;
  app.add_option("output", out, "the .safetensors file to write")->required();
  app.add_option("--size", size, "tensor data to write: 1GiB, 256MiB, 100MB, ... (default 1GiB)");
  app.add_option("--seed", seed, "random seed (default 1)");
  app.add_option("--dtype", dtype_text, "F32, F16 or BF16 (default F32)");
  CLI11_PARSE(app, argc, argv);

  kmr::bench::SyntheticOptions options;
  options.seed = seed;
  options.target_bytes = kmr::bench::parse_size(size);
  if (options.target_bytes == 0) {
    fmt::print(stderr, "make_checkpoint: error: --size {} is not a positive size\n", size);
    return 1;
  }
  std::optional<rt::DType> dtype = rt::parse_dtype(dtype_text);
  if (!dtype || (*dtype != rt::DType::F32 && *dtype != rt::DType::F16 && *dtype != rt::DType::BF16)) {
    fmt::print(stderr, "make_checkpoint: error: --dtype {} is not F32, F16 or BF16\n", dtype_text);
    return 1;
  }
  options.dtype = *dtype;
  const std::vector<kmr::bench::SyntheticTensor> tensors = kmr::bench::make_synthetic_checkpoint(options);
  std::uint64_t bytes = 0;
  for (const auto& t : tensors) bytes += t.bytes.size();
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"kmr.synthetic", fmt::format("bench/make_checkpoint seed={} dtype={} size={}", seed, dtype_text, size)}};
  kmr::Status written = rt::write_safetensors(out, kmr::bench::views_of(tensors, options.dtype), metadata);
  if (!written) {
    fmt::print(stderr, "make_checkpoint: error: {}\n", written.error().message);
    return 1;
  }
  fmt::print("{}: {} tensors, {} bytes of {} data\n", out, tensors.size(), bytes, dtype_text);
  return 0;
}
