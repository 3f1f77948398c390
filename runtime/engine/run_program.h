// `kmrc run`: a checked program run end to end — the knob space (with --set pins), the
// baseline, the policy's search, the chosen model saved and the report written.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "compiler/driver/compilation.h"
#include "runtime/engine/host_extensions.h"
#include "runtime/engine/search.h"

namespace kmr::engine {

struct RunOptions {
  std::vector<std::pair<std::string, std::string>> pins;  // --set knob=value
  std::string report_path;                                // overrides the script's `report to`
  size_t fuel = 1000000;                                  // statements of a scripted policy
  size_t policy_memory_bytes = size_t{64} << 20;          // what a scripted policy may hold
  /// Override the policy's own search budget (`max_trials`, `time_limit`) when set; they
  /// bound scripted policies' measured trials too.
  std::optional<size_t> max_trials;
  std::optional<double> time_limit_seconds;
  bool use_jit = true;                                    // false: --no-jit, kernels in the interpreter
  int threads = 0;                                        // kernel threads; 0: every core
  std::optional<std::string> kernel_cache_dir;            // the JIT's disk cache; default: codegen's
  /// Where to redraw a one-line progress report after each trial (kmrc: stderr when it is a
  /// terminal); null for none.
  std::ostream* progress = nullptr;
  /// Meters, rules, models and data an embedding application adds; null for none. Must
  /// outlive the call.
  const HostExtensions* host = nullptr;
  /// Receives the report (the JSON `report to` writes) when not null, whether or not the
  /// script writes one.
  nlohmann::ordered_json* report_out = nullptr;
  std::string kmrc_version = "0.1.0";
};

/// Exit statuses of a run: 0 saved, 2 no feasible configuration (nothing saved).
constexpr int kRunFeasible = 0;
constexpr int kRunInfeasible = 2;

/// Runs `compilation` (parsed and checked without errors); prints the summary table to
/// `out`. Returns the exit status, or an Error (unknown or out-of-domain --set, a rule or
/// meter that cannot run, a failed write) for which nothing was saved.
Expected<int> run_program(const driver::Compilation& compilation, const RunOptions& options, std::ostream& out);

}  // namespace kmr::engine
