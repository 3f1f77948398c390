// Embedding KMR in a C++ application: compress the Fashion-MNIST MLP for a small device
// whose inference time the application knows how to estimate, and KMR does not.
//
// The application adds one meter, `edge_latency`: on a microcontroller-class device the
// weights stream from flash once per inference and every stored non-zero weight costs a
// multiply-accumulate, so latency ≈ encoded bytes / flash bandwidth + non-zeros / MAC rate.
// The policy keeps the model as close to the original as it can within 4 ms and a
// 256 KiB flash partition.
//
// usage: edge_latency MODEL.safetensors
#include <kmr/kmr.h>

#include <cstdio>
#include <string>

namespace {

constexpr double kFlashBytesPerSecond = 50e6;  // QSPI flash, streamed
constexpr double kMacsPerSecond = 200e6;       // a Cortex-M7 class core with SIMD

const char* kPolicy = R"(
import "std/prune";
import "std/quant";

model base = load("mlp.safetensors", arch = mlp(act = relu));   // bound by the application

knob sparsity : ratio in [0%, 80%] step 10% = 0%;
knob bits     : int   in {8, 6, 4} = 8;

rule prune = magnitude_prune(sparsity) on base.match("fc*.weight");
rule quant = quantize(bits, group = 64) on base.match("fc*.weight");
pipeline small = base |> prune |> quant;

meter latency : duration = edge_latency(small);
meter size    : bytes    = encoded_size(small);
meter error   : float    = rel_error(small, base);

budget latency <= 4 ms;
budget size <= 256 KiB;   // the flash partition the model must fit
objective minimize error;
policy greedy(max_trials = 60);
)";

kmr::Result<double> edge_latency(const kmr::MeterCall& call) {
  double bytes = 0, macs = 0;
  for (const auto& tensor : call.models.at(0).tensors) {
    bytes += static_cast<double>(tensor.encoded_bytes);
    if (tensor.shape.size() == 2) macs += static_cast<double>(tensor.nonzeros);  // weights, not biases
  }
  return bytes / kFlashBytesPerSecond + macs / kMacsPerSecond;
}

int fail(const kmr::Failure& failure) {
  std::fprintf(stderr, "%s\n", failure.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors\n", argv[0]);
    return 1;
  }
  kmr::Session session;
  if (auto bound = session.bind_model("base", argv[1]); !bound) return fail(bound.error());
  if (auto added = session.add_meter("edge_latency", {{"model", kmr::Type::Model}}, kmr::Type::Duration, edge_latency);
      !added)
    return fail(added.error());
  auto compiled = session.compile_string("edge_latency.kmr", kPolicy);
  if (!compiled) return fail(compiled.error());
  for (const auto& warning : *compiled) std::fprintf(stderr, "%s", warning.rendered.c_str());

  auto report = session.run();
  if (!report) return fail(report.error());
  auto print_meters = [](const char* label, const kmr::NamedValues& meters) {
    std::printf("%s: latency %.2f ms, size %.1f KiB, error %.4f\n", label, *kmr::lookup(meters, "latency") * 1e3,
                *kmr::lookup(meters, "size") / 1024, *kmr::lookup(meters, "error"));
  };
  print_meters("baseline", report->baseline);
  const kmr::Trial* chosen = report->chosen_trial();
  if (!report->feasible || chosen == nullptr) {
    std::printf("no configuration meets the latency budget in %zu trials\n", report->trials.size());
    return 2;
  }
  print_meters("chosen", chosen->meters);
  std::printf("chosen configuration (trial %zu of %zu):", chosen->index + 1, report->trials.size());
  for (const auto& [knob, value] : chosen->knobs) std::printf(" %s=%g", knob.c_str(), value);
  std::printf("\n");
  return 0;
}
