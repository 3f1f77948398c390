// `kmrc run FILE.kmr [--set knob=value]... [--threads N] [--no-jit] [--report PATH] [--fuel N]`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace kmrc {

struct RunCommandOptions {
  std::string path;
  std::vector<std::string> sets;
  std::string report;
  size_t fuel = 1000000;
  size_t policy_memory_mib = 64;
  std::optional<size_t> max_trials;
  std::optional<double> time_limit_seconds;
  int threads = 0;
  bool no_jit = false;
};

/// Registers the subcommand on `app`; its options land in `options`.
CLI::App* add_run_command(CLI::App& app, RunCommandOptions& options);

/// Checks the script, runs its policy, saves the chosen model and writes the report.
/// Exit status: 0 saved, 1 an error (diagnostics or a run-time error, nothing saved),
/// 2 no feasible configuration (nothing saved).
int run_run(const RunCommandOptions& options);

}  // namespace kmrc
