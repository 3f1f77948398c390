// kmrc run: check, then hand the program to the engine.
#include "tools/kmrc/run_command.h"

#include <unistd.h>

#include <iostream>

#include <Eigen/Core>
#include <fmt/format.h>

#include "compiler/driver/compilation.h"
#include "runtime/engine/run_program.h"

namespace kmrc {

CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options) {
  auto* run = app.add_subcommand("run", "run the policy: search the knobs, save the chosen model, write the report");
  run->add_option("file", options.path, "the .kmr policy")->required();
  run->add_option("--set", options.sets, "pin a knob to one value of its domain: knob=value (repeatable)");
  run->add_option("--report", options.report, "write the JSON report here (overrides the script's `report to`)");
  run->add_option("--fuel", options.fuel, "statements a scripted policy may execute")->check(CLI::PositiveNumber);
  run->add_option("--policy-memory", options.policy_memory_mib, "MiB a scripted policy may hold (default 64)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  run->add_option("--max-trials", options.max_trials, "trials the search may measure (overrides the policy's max_trials)")
      ->check(CLI::PositiveNumber);
  run->add_option("--time-limit", options.time_limit_seconds,
                  "seconds the search may take (overrides the policy's time_limit)")
      ->check(CLI::PositiveNumber);
  run->add_option("--threads", options.threads, "threads for kernels and meters (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  run->add_flag("--no-jit", options.no_jit, "run kernels in the reference interpreter instead of JIT-compiled code");
  return run;
}

int run_run(const RunCommandOptions& options) {
  kmr::driver::Compilation compilation;
  bool ok = kmr::driver::parse_program(options.path, compilation) && kmr::driver::check_program(compilation);
  std::cerr << kmr::diag::render_all(compilation.diagnostics, compilation.sources);
  if (!ok) return 1;
  if (options.threads > 0) Eigen::setNbThreads(options.threads);
  kmr::engine::RunOptions run;
  run.report_path = options.report;
  run.fuel = options.fuel;
  run.policy_memory_bytes = options.policy_memory_mib << 20;
  run.max_trials = options.max_trials;
  run.time_limit_seconds = options.time_limit_seconds;
  run.use_jit = !options.no_jit;
  run.threads = options.threads;
  if (::isatty(STDERR_FILENO)) run.progress = &std::cerr;
  for (const auto& set : options.sets) {
    auto equals = set.find('=');
    if (equals == std::string::npos || equals == 0) {
      std::cerr << fmt::format("kmrc: error: --set {}: write --set knob=value\n", set);
      return 1;
    }
    run.pins.emplace_back(set.substr(0, equals), set.substr(equals + 1));
  }
  auto status = kmr::engine::run_program(compilation, run, std::cout);
  if (!status) {
    std::cerr << fmt::format("{}: error: {}\n", options.path, status.error().message);
    return 1;
  }
  return *status;
}

}  // namespace kmrc
