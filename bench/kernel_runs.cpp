// One case of the kernel benchmarks' workload, run many times in one process: its best
// and median time. Two builds compared by bench/ab_kernel.sh, which alternates their
// kernel_runs so that both see the same phases of a shared machine (docs/performance.md).
// Usage: kernel_runs [--case fused] [--runs 15] [--threads 2] [--two-reads]
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "compiler/codegen/executor_testing.h"
#include "compiler/codegen/jit.h"
#include "kernel_workload.h"

int main(int argc, char** argv) {
  CLI::App app{"Runs one case of the kernel benchmarks' workload; prints its best and median time."};
  std::string id = "fused";
  int runs = 15, threads = 2;
  bool two_reads = false;
  std::vector<std::string> ids;
  for (const auto& c : kmr::bench::workload_cases()) ids.push_back(c.id);
  app.add_option("--case", id, "the case")->check(CLI::IsMember(ids));
  app.add_option("--runs", runs, "timed runs, after one that warms")->check(CLI::Range(1, 100000));
  app.add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 256));
  app.add_flag("--two-reads", two_reads, "the fused kernel without its one-read pass");
  CLI11_PARSE(app, argc, argv);

  auto jit = kmr::codegen::Jit::create(kmr::codegen::JitOptions{""});  // no disk cache: two builds must not share objects
  if (!jit) {
    fmt::print(stderr, "{}\n", jit.error().message);
    return 1;
  }
  const auto& c = kmr::bench::workload_case(id);
  auto w = kmr::bench::make_matrix();
  kmr::kir::TensorView view{"w", w.data(), kmr::bench::kRows, kmr::bench::kCols};
  auto kernels = kmr::bench::compile_workload();
  const auto& kernel = kmr::bench::find_kernel(kernels, c.kernel);
  kmr::codegen::testing::SpeculationOverride speculation(!two_reads);
  kmr::kir::KernelOutput out;
  std::vector<double> ms;
  for (int i = 0; i <= runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (auto status = (*jit)->run_into(kernel, view, c.params, threads, out); !status.ok()) {
      fmt::print(stderr, "{}\n", status.error().message);
      return 1;
    }
    if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("{}: best {:.2f} median {:.2f} ms\n", id, ms.front(), ms[ms.size() / 2]);
  return 0;
}
