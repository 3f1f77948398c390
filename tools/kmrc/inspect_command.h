// `kmrc inspect FILE|INDEX.json [--json]`: the tensors of a checkpoint as a table or JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kmrc {

struct InspectOptions {
  std::string path;
  bool json = false;
};

/// Registers the `inspect` subcommand on `app`, binding its arguments to `options`.
CLI::App* add_inspect_command(CLI::App& app, InspectOptions& options);

/// Prints the summary of the checkpoint (stdout) and returns the exit status: 0, or 1 with
/// `file: error: message` on stderr when the checkpoint cannot be read or decoded.
int run_inspect(const InspectOptions& options);

}  // namespace kmrc
