// `kmrc decode IN -o OUT`: a compressed checkpoint back to dense tensors in their original dtypes.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kmrc {

struct DecodeOptions {
  std::string input;
  std::string output;
};

/// Registers the `decode` subcommand on `app`, binding its arguments to `options`.
CLI::App* add_decode_command(CLI::App& app, DecodeOptions& options);

/// Writes the dense checkpoint atomically and returns 0, or 1 with `file: error: message`
/// on stderr (nothing is written then).
int run_decode(const DecodeOptions& options);

}  // namespace kmrc
