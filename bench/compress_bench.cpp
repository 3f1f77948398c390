// End to end against DESIGN.md's target, measured in one run: a 1 GiB f32 checkpoint
// compressed — a policy that loads it, quantises every weight to int8 per row with the JIT
// and saves the result, run as `kmrc run` runs it — in at most 2x the time it takes to read
// the checkpoint and write the output's bytes with plain file I/O.
//
// Each compression runs in a fresh process (this program with --child), so that its peak
// memory is its own and nothing stays cached in memory between rounds; the plain reference
// reads the checkpoint through a 4 MiB buffer and writes as many bytes as the compressed
// file has, then fsyncs (as the saver does). Both read the checkpoint from the page cache.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "compiler/driver/compilation.h"
#include "runtime/engine/run_program.h"
#include "runtime/safetensors_writer.h"
#include "synthetic_checkpoint.h"

namespace rt = kmr::runtime;
using kmr::bench::Clock;
using kmr::bench::seconds_since;

namespace {

std::string policy_text(const std::string& checkpoint, const std::string& output) {
  return fmt::format(
      "import \"std/quant\";\n"
      "model base = load(\"{}\", arch = mlp(act = relu));\n"
      "rule quant = quantize(8) on base.match(\"fc*.weight\");\n"
      "pipeline small = base |> quant;\n"
      "save small to \"{}\";\n",
      checkpoint, output);
}

// Child mode: one compression, as kmrc runs it; prints "<seconds> <peak RSS KiB>".
int compress_once(const std::string& policy, const std::string& cache_dir) {
  const Clock::time_point start = Clock::now();
  kmr::driver::Compilation compilation;
  if (!kmr::driver::parse_program(policy, compilation) || !kmr::driver::check_program(compilation)) {
    fmt::print(stderr, "compress_bench: the policy does not check\n");
    return 1;
  }
  kmr::engine::RunOptions options;
  options.kernel_cache_dir = cache_dir;
  std::ostringstream summary;
  auto status = kmr::engine::run_program(compilation, options, summary);
  const double seconds = seconds_since(start);
  if (!status || *status != kmr::engine::kRunFeasible) {
    fmt::print(stderr, "compress_bench: the run failed: {}\n", status ? summary.str() : status.error().message);
    return 1;
  }
  fmt::print("{:.4f} {}\n", seconds, kmr::bench::peak_rss_kib());
  return 0;
}

// The reference: read `input` through a buffer, write `bytes` of it to `output`, fsync.
bool plain_io(const std::string& input, const std::string& output, std::uint64_t bytes) {
  std::vector<char> buffer(4u << 20);
  const int in = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = in >= 0 && out >= 0;
  std::uint64_t to_write = bytes;
  while (ok) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(to_write, static_cast<std::uint64_t>(n)));
    for (const char* p = buffer.data(); ok && chunk > 0;) {
      const ssize_t w = ::write(out, p, chunk);
      ok = w > 0;
      if (!ok) break;
      p += w;
      chunk -= static_cast<std::size_t>(w);
      to_write -= static_cast<std::uint64_t>(w);
    }
  }
  ok = ok && to_write == 0 && ::fsync(out) == 0;
  if (in >= 0) ::close(in);
  if (out >= 0) ok = ::close(out) == 0 && ok;
  return ok;
}

struct ChildFigures {
  double seconds = 0;
  long peak_rss_kib = 0;
};

bool run_child(const std::string& self, const std::string& policy, const std::string& cache_dir, ChildFigures& out) {
  const std::string command = fmt::format("'{}' --child '{}' --cache '{}'", self, policy, cache_dir);
  FILE* child = ::popen(command.c_str(), "r");
  if (child == nullptr) return false;
  const int fields = std::fscanf(child, "%lf %ld", &out.seconds, &out.peak_rss_kib);
  return ::pclose(child) == 0 && fields == 2;
}

std::string mib(std::uint64_t bytes) { return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20)); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"compress_bench: compress a synthetic checkpoint end to end against plain file I/O"};
  std::string size = "1GiB", dir = "/tmp", child_policy, cache_dir;
  int repeat = 3;
  bool keep = false;
  std::int64_t width = 8192;
  app.add_option("--size", size, "checkpoint size (default 1GiB: four 8192 x 8192 layers)");
  app.add_option("--width", width, "layer width (default 8192)");
  app.add_option("--dir", dir, "where to write the temporary files (default /tmp)");
  app.add_option("--repeat", repeat, "rounds of each measurement (default 3)");
  app.add_flag("--keep", keep, "keep the checkpoint and the policy (to profile `kmrc run` on them)");
  app.add_option("--child", child_policy, "internal: compress with this policy in this process");
  app.add_option("--cache", cache_dir, "internal: the JIT's disk cache of the child");
  CLI11_PARSE(app, argc, argv);
  if (!child_policy.empty()) return compress_once(child_policy, cache_dir);

  kmr::bench::SyntheticOptions options;
  options.target_bytes = kmr::bench::parse_size(size);
  if (options.target_bytes == 0 || width <= 0) {
    fmt::print(stderr, "compress_bench: error: --size {} --width {} is not a checkpoint\n", size, width);
    return 1;
  }
  const std::string base = dir + "/kmr-compress-bench";
  const std::string source = base + ".safetensors", output = base + "-int8.safetensors";
  const std::string plain = base + ".plain", policy = base + ".kmr", cache = base + "-cache";
  auto cleanup = [&] {
    for (const std::string& path : {output, plain}) std::remove(path.c_str());
    if (!keep)
      for (const std::string& path : {source, policy}) std::remove(path.c_str());
    std::error_code ignored;
    std::filesystem::remove_all(cache, ignored);
  };

  Clock::time_point start = Clock::now();
  std::uint64_t bytes = 0;
  {
    const auto tensors = kmr::bench::make_synthetic_mlp(options, width);
    for (const auto& t : tensors) bytes += t.bytes.size();
    if (!rt::write_safetensors(source, kmr::bench::views_of(tensors, options.dtype), {}).ok()) {
      fmt::print(stderr, "compress_bench: error: cannot write {}\n", source);
      return 1;
    }
    fmt::print("generated {} tensors ({} layers of {} x {}), {} of F32, in {:.1f} s\n", tensors.size(),
               tensors.size() / 2, width, width, mib(bytes), seconds_since(start));
  }
  std::ofstream(policy) << policy_text(source, output);

  std::vector<double> ours_s, plain_s;
  long peak_kib = 0;
  std::uint64_t output_bytes = 0;
  for (int round = 0; round < repeat; ++round) {
    for (int which = 0; which < 2; ++which) {
      // Alternating, the first round compressing first: the plain reference then knows
      // how many bytes the compressed file has.
      const bool ours = (which + round) % 2 == 0;
      std::remove(plain.c_str());
      if (ours) std::remove(output.c_str());
      ::sync();  // no dirty pages of the previous round still being written back
      if (ours) {
        ChildFigures figures;
        if (!run_child(argv[0], policy, cache, figures)) {
          fmt::print(stderr, "compress_bench: error: the compression failed\n");
          cleanup();
          return 1;
        }
        ours_s.push_back(figures.seconds);
        peak_kib = std::max(peak_kib, figures.peak_rss_kib);
        output_bytes = std::filesystem::file_size(output);
      } else {
        start = Clock::now();
        if (!plain_io(source, plain, output_bytes)) {
          fmt::print(stderr, "compress_bench: error: plain I/O under {} failed\n", dir);
          cleanup();
          return 1;
        }
        plain_s.push_back(seconds_since(start));
      }
    }
  }
  cleanup();

  const double best_ours = *std::min_element(ours_s.begin(), ours_s.end());
  const double best_plain = *std::min_element(plain_s.begin(), plain_s.end());
  fmt::print("compress {} to {} (int8 per row, JIT): best {:.2f} s, median {:.2f} s; peak RSS {} MiB\n", mib(bytes),
             mib(output_bytes), best_ours, kmr::bench::median(ours_s), peak_kib / 1024);
  fmt::print("plain I/O (read {}, write and fsync {}): best {:.2f} s, median {:.2f} s\n", mib(bytes), mib(output_bytes),
             best_plain, kmr::bench::median(plain_s));
  fmt::print("  ratio {:.2f} best to best, {:.2f} median to median (target <= 2); all rounds: ours",
             best_ours / best_plain, kmr::bench::median(ours_s) / kmr::bench::median(plain_s));
  for (double s : ours_s) fmt::print(" {:.2f}", s);
  fmt::print(" s, plain");
  for (double s : plain_s) fmt::print(" {:.2f}", s);
  fmt::print(" s\n");
  if (keep) fmt::print("kept {} and {} (kmrc run {})\n", source, policy, policy);
  return 0;
}
