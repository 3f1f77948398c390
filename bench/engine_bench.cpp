// The runtime's own cost and the search strategies (docs/performance.md):
//  1. per-trial overhead apart from kernel time, on a 50-tensor model where every trial
//     changes the bits of all 50 tensors (target: under 5% of the kernel time);
//  2. trials and time of grid, greedy and pareto on the spec's mixed_precision example
//     (bisect needs a scalar knob; that example's knob is a per-tensor family).
// Run from the repository root: engine_bench [--skip-strategies].
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "compiler/codegen/engine.h"
#include "compiler/driver/compilation.h"
#include "runtime/engine/search.h"
#include "runtime/random.h"
#include "runtime/safetensors_writer.h"

namespace {

using namespace kmr;

struct Session {
  driver::Compilation compilation;
  engine::ModelStore store;
  engine::KnobSpace space;
  std::unique_ptr<codegen::KernelEngine> kernels;
  std::unique_ptr<engine::TrialEvaluator> evaluator;
};

bool open_session(Session& s, const std::string& path) {
  bool ok = driver::parse_program(path, s.compilation) && driver::check_program(s.compilation);
  if (!ok) {
    std::fputs(diag::render_all(s.compilation.diagnostics, s.compilation.sources).c_str(), stderr);
    return false;
  }
  s.space = engine::build_knob_space(s.compilation.program).value();
  codegen::EngineOptions options;
  options.jit.cache_dir = "";
  s.kernels = std::move(codegen::KernelEngine::create(options).value());
  auto evaluator = engine::TrialEvaluator::create(s.compilation.program, *s.compilation.modules.front(), s.store,
                                                  s.space, *s.kernels);
  if (!evaluator) {
    std::fprintf(stderr, "%s\n", evaluator.error().message.c_str());
    return false;
  }
  s.evaluator = std::move(*evaluator);
  return true;
}

// An MLP of 25 layers of 512 x 512 (50 tensors, 25 MiB): small enough to run quickly,
// many tensors enough that per-tensor bookkeeping would show.
std::string write_fifty_tensor_model(const std::string& dir) {
  std::vector<std::vector<float>> data;
  runtime::Rng rng(7);
  std::vector<runtime::TensorToWrite> tensors;
  data.reserve(50);
  for (int layer = 1; layer <= 25; ++layer) {
    for (bool bias : {false, true}) {
      data.emplace_back(bias ? 512 : 512 * 512);
      for (float& v : data.back()) v = (rng.uniform01() - 0.5f) * 0.1f;
      std::vector<int64_t> shape = bias ? std::vector<int64_t>{512} : std::vector<int64_t>{512, 512};
      tensors.push_back({fmt::format("fc{}.{}", layer, bias ? "bias" : "weight"), runtime::DType::F32, shape,
                         {reinterpret_cast<const uint8_t*>(data.back().data()), data.back().size() * 4}});
    }
  }
  std::string path = dir + "/fifty.safetensors";
  auto written = runtime::write_safetensors(path, tensors, {});
  if (!written) std::fprintf(stderr, "%s\n", written.error().message.c_str());
  return path;
}

void overhead_bench() {
  char pattern[] = "/tmp/kmr-engine-bench-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::string model = write_fifty_tensor_model(dir);
  std::string script = dir + "/fifty.kmr";
  std::FILE* f = std::fopen(script.c_str(), "w");
  std::fprintf(f,
               "import \"std/quant\";\n"
               "model base = load(\"%s\", arch = mlp(act = relu));\n"
               "knob bits : int in {8, 6, 4, 3, 2} = 8;\n"
               "rule quant = quantize(bits, group = 64) on base.match(\"fc*.weight\");\n"
               "pipeline q = base |> quant;\n"
               "meter size : bytes = encoded_size(q);\n"
               "budget size <= 1 MiB;\n"
               "policy grid(max_trials = 5);\n",
               model.c_str());
  std::fclose(f);
  Session s;
  if (!open_session(s, script)) return;
  // Once per run, not per trial: the pipeline's runner reads the pristine weights.
  auto setup_start = std::chrono::steady_clock::now();
  if (auto runner = s.evaluator->runner("q"); !runner) {
    std::fprintf(stderr, "%s\n", runner.error().message.c_str());
    return;
  }
  double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  engine::SearchLimits limits;
  limits.max_trials = 5;
  auto start = std::chrono::steady_clock::now();
  auto outcome = engine::grid_search(*s.evaluator, s.space, limits, false);
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!outcome) {
    std::fprintf(stderr, "%s\n", outcome.error().message.c_str());
    return;
  }
  double kernels = s.evaluator->kernel_seconds();
  std::printf("per-trial overhead, 50 tensors (25 weights of 512x512 + biases), %zu trials (every trial reruns "
              "the 25 weight kernels):\n",
              outcome->trials.size());
  std::printf("  total %.3f s, in kernels %.3f s, runtime overhead %.3f s = %.1f%% of kernel time (target < 5%%)\n",
              total, kernels, total - kernels, 100.0 * (total - kernels) / kernels);
  std::printf("  per trial: %.2f ms total, %.2f ms overhead; once per run, before the trials: %.2f ms of setup\n",
              1e3 * total / outcome->trials.size(), 1e3 * (total - kernels) / outcome->trials.size(), 1e3 * setup);
}

void strategies_bench() {
  const std::string spec = "../shared/spec/mixed_precision.kmr";
  std::printf("strategies on %s (JIT kernels, top1 and output_error measured per trial):\n", spec.c_str());
  std::printf("  %-8s %8s %10s %10s %14s\n", "policy", "trials", "seconds", "feasible", "chosen drift");
  for (const char* policy : {"grid", "greedy", "pareto"}) {
    Session s;
    if (!open_session(s, spec)) return;
    engine::SearchLimits limits;
    limits.max_trials = 300;
    auto start = std::chrono::steady_clock::now();
    auto outcome = std::strcmp(policy, "grid") == 0     ? engine::grid_search(*s.evaluator, s.space, limits, false)
                   : std::strcmp(policy, "greedy") == 0 ? engine::greedy_search(*s.evaluator, s.space, limits, false)
                                                        : engine::pareto_search(*s.evaluator, s.space, limits, false);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!outcome) {
      std::fprintf(stderr, "%s: %s\n", policy, outcome.error().message.c_str());
      continue;
    }
    size_t feasible = 0;
    for (const auto& trial : outcome->trials) feasible += trial.feasible;
    std::string chosen = outcome->chosen ? fmt::format("{:.4f}", *outcome->trials[*outcome->chosen].objective) : "-";
    std::printf("  %-8s %8zu %10.1f %10zu %14s\n", policy, outcome->trials.size(), seconds, feasible, chosen.c_str());
  }
  std::printf("  bisect: n/a (it searches one scalar knob; bits is a per-tensor family here)\n");
}

}  // namespace

int main(int argc, char** argv) {
  overhead_bench();
  if (!(argc > 1 && std::strcmp(argv[1], "--skip-strategies") == 0)) strategies_bench();
  return 0;
}
