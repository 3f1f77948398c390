// Decoding a checkpoint's compressed groups into a dense safetensors file.
#include "tools/kmrc/decode_command.h"

#include "runtime/checkpoint_decompression.h"
#include "tools/kmrc/file_error.h"

namespace kmrc {

namespace rt = kmr::runtime;

CLI::App* add_decode_command(CLI::App& app, DecodeOptions& options) {
  CLI::App* cmd = app.add_subcommand("decode", "write a compressed checkpoint's tensors back as dense tensors");
  cmd->add_option("input", options.input, "a .safetensors file or a sharded model.safetensors.index.json")->required();
  cmd->add_option("-o,--output", options.output, "the dense .safetensors file to write")->required();
  return cmd;
}

int run_decode(const DecodeOptions& options) {
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(options.input);
  if (!ckpt) {
    print_file_error(options.input, ckpt.error().message);
    return 1;
  }
  kmr::Status written = rt::decompress_checkpoint(*ckpt, options.output);
  if (!written) {
    // Read failures name the input, write failures the output; report under the one named.
    const std::string& message = written.error().message;
    const bool about_output = message.compare(0, options.output.size() + 1, options.output + ":") == 0;
    print_file_error(about_output ? options.output : options.input, message);
    return 1;
  }
  return 0;
}

}  // namespace kmrc
