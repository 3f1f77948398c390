// Writes the sample compressed model (compressed_samples.h) and a malformed compressed file,
// for the Python checker and the `kmrc inspect` / `kmrc decode` end-to-end test.
#include <fmt/core.h>

#include <filesystem>
#include <string>

#include "compressed_samples.h"
#include "runtime/compressed_writer.h"

namespace rt = kmr::runtime;

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "error: {}: {}\n", dir, ec.message());
    return 1;
  }
  rt::testing::SampleModel sample = rt::testing::sample_model();
  kmr::Status ok = rt::write_compressed(dir + "/compressed.safetensors", sample.model, sample.provenance);
  if (!ok) {
    fmt::print(stderr, "error: {}\n", ok.error().message);
    return 1;
  }
  // The same 4-bit group without its scale tensor.
  kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(sample.model, sample.provenance, dir);
  if (!encoded) {
    fmt::print(stderr, "error: {}\n", encoded.error().message);
    return 1;
  }
  std::vector<rt::TensorToWrite> tensors;
  for (const rt::TensorToWrite& t : encoded->tensors.tensors()) {
    if (t.name != "q4.weight_scale") tensors.push_back(t);
  }
  ok = rt::write_safetensors(dir + "/missing_scale.safetensors", tensors, encoded->metadata);
  if (!ok) {
    fmt::print(stderr, "error: {}\n", ok.error().message);
    return 1;
  }
  return 0;
}
