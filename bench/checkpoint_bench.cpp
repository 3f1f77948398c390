// Checkpoint I/O against its targets, measured in one run: opening a 1 GiB safetensors file
// (<= 50 ms, peak memory not growing with the file) and saving one (>= 0.8x the speed of a
// plain write() + fsync() of the same bytes).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/compressed_layout.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "bench_timing.h"
#include "synthetic_checkpoint.h"

namespace rt = kmr::runtime;

namespace {

using kmr::bench::Clock;
using kmr::bench::median;
using kmr::bench::peak_rss_kib;
using kmr::bench::seconds_since;

// The reference: the same header and tensor bytes through write(), then fsync() (the saver
// fsyncs too: that is what makes a save durable), in one file opened O_TRUNC.
bool plain_write(const std::string& path, const std::string& header, const std::vector<rt::TensorToWrite>& tensors) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  auto write_all = [fd](const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd, p, size);
      if (n <= 0) return false;
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  };
  std::uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i));
  bool ok = write_all(length, 8) && write_all(header.data(), header.size());
  // Tensors in the saver's order (by name), so both files are the same bytes.
  std::vector<const rt::TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (const rt::TensorToWrite* t : order) ok = ok && write_all(t->data.data, t->data.size);
  ok = ok && ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

// Child mode: opens `path` `repeat` times in a fresh process, so that its peak RSS is the
// reader's alone, and prints "<min ms> <median ms> <peak RSS KiB before> <after>".
int open_only(const std::string& path, int repeat) {
  const long before = peak_rss_kib();
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    const Clock::time_point start = Clock::now();
    kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
    ms.push_back(seconds_since(start) * 1e3);
    if (!ckpt) {
      fmt::print(stderr, "{}\n", ckpt.error().message);
      return 1;
    }
  }
  fmt::print("{:.4f} {:.4f} {} {}\n", *std::min_element(ms.begin(), ms.end()), median(ms), before, peak_rss_kib());
  return 0;
}

struct OpenFigures {
  double min_ms = 0, median_ms = 0;
  long rss_before_kib = 0, rss_after_kib = 0;
};

bool measure_open(const std::string& self, const std::string& path, int repeat, OpenFigures& out) {
  const std::string command = fmt::format("'{}' --open-only '{}' --repeat {}", self, path, repeat);
  FILE* child = ::popen(command.c_str(), "r");
  if (child == nullptr) return false;
  const int fields =
      std::fscanf(child, "%lf %lf %ld %ld", &out.min_ms, &out.median_ms, &out.rss_before_kib, &out.rss_after_kib);
  return ::pclose(child) == 0 && fields == 4;
}

std::string gib(std::uint64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1ull << 30)); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"checkpoint_bench: open and save a synthetic checkpoint against the targets"};
  std::string size = "1GiB", dir = "/tmp", open_path;
  int repeat = 5, open_repeat = 20;
  app.add_option("--size", size, "checkpoint size (default 1GiB)");
  app.add_option("--dir", dir, "where to write the temporary files (default /tmp)");
  app.add_option("--repeat", repeat, "save rounds / opens per measurement");
  app.add_option("--open-only", open_path, "internal: measure opening this file in this process");
  CLI11_PARSE(app, argc, argv);
  if (!open_path.empty()) return open_only(open_path, repeat);

  kmr::bench::SyntheticOptions options;
  options.target_bytes = kmr::bench::parse_size(size);
  if (options.target_bytes == 0) {
    fmt::print(stderr, "checkpoint_bench: error: --size {} is not a positive size\n", size);
    return 1;
  }
  const std::string saved = dir + "/kmr-checkpoint-bench.safetensors";
  const std::string plain = dir + "/kmr-checkpoint-bench.plain";
  const std::string small = dir + "/kmr-checkpoint-bench-small.safetensors";
  auto cleanup = [&] {
    std::remove(saved.c_str());
    std::remove(plain.c_str());
    std::remove(small.c_str());
  };

  Clock::time_point start = Clock::now();
  std::vector<kmr::bench::SyntheticTensor> tensors = kmr::bench::make_synthetic_checkpoint(options);
  std::vector<rt::TensorToWrite> views = kmr::bench::views_of(tensors, options.dtype);
  std::uint64_t bytes = 0;
  for (const auto& t : tensors) bytes += t.bytes.size();
  fmt::print("generated {} tensors, {} of F32, in {:.1f} s\n", tensors.size(), gib(bytes), seconds_since(start));

  // Saving: alternate the two writers so that neither always meets a busier disk.
  kmr::Expected<std::string> header = rt::build_safetensors_header(views, {}, saved);
  if (!header) {
    fmt::print(stderr, "checkpoint_bench: error: {}\n", header.error().message);
    return 1;
  }
  std::vector<double> save_s, plain_s;
  for (int round = 0; round < repeat; ++round) {
    for (int which = 0; which < 2; ++which) {
      const bool ours = (which + round) % 2 == 0;
      // Each writer creates a new file on a quiet disk: no old file to free, and no dirty
      // pages of the previous round still being written back.
      std::remove(saved.c_str());
      std::remove(plain.c_str());
      ::sync();
      start = Clock::now();
      const bool ok = ours ? rt::write_safetensors(saved, views, {}).ok() : plain_write(plain, *header, views);
      const double s = seconds_since(start);
      if (!ok) {
        fmt::print(stderr, "checkpoint_bench: error: writing under {} failed\n", dir);
        cleanup();
        return 1;
      }
      (ours ? save_s : plain_s).push_back(s);
    }
  }
  std::remove(plain.c_str());
  if (!rt::write_safetensors(saved, views, {}).ok()) {  // the file to open (the last round may have been plain)
    fmt::print(stderr, "checkpoint_bench: error: cannot write {}\n", saved);
    cleanup();
    return 1;
  }
  tensors.clear();
  tensors.shrink_to_fit();

  // Opening, in fresh processes: the 1 GiB file and a 16 MiB one, to compare peak memory.
  kmr::bench::SyntheticOptions small_options;
  small_options.target_bytes = 16ull << 20;
  const auto small_tensors = kmr::bench::make_synthetic_checkpoint(small_options);
  if (!rt::write_safetensors(small, kmr::bench::views_of(small_tensors, small_options.dtype), {}).ok()) {
    fmt::print(stderr, "checkpoint_bench: error: cannot write {}\n", small);
    cleanup();
    return 1;
  }
  OpenFigures big_open, small_open;
  const bool opened =
      measure_open(argv[0], saved, open_repeat, big_open) && measure_open(argv[0], small, open_repeat, small_open);
  cleanup();
  if (!opened) {
    fmt::print(stderr, "checkpoint_bench: error: the open measurement failed\n");
    return 1;
  }

  const double best_save = *std::min_element(save_s.begin(), save_s.end());
  const double best_plain = *std::min_element(plain_s.begin(), plain_s.end());
  const double gb = static_cast<double>(bytes) / 1e9;
  fmt::print(
      "save {}: write_safetensors {:.2f} s ({:.2f} GB/s), plain write()+fsync() {:.2f} s ({:.2f} GB/s); "
      "best of {}\n",
      gib(bytes), best_save, gb / best_save, best_plain, gb / best_plain, repeat);
  const double median_save = median(save_s), median_plain = median(plain_s);
  fmt::print("  ratio {:.2f} best to best, {:.2f} median to median (target >= 0.80); all rounds: ours",
             best_plain / best_save, median_plain / median_save);
  for (double s : save_s) fmt::print(" {:.2f}", s);
  fmt::print(" s, plain");
  for (double s : plain_s) fmt::print(" {:.2f}", s);
  fmt::print(" s\n");
  fmt::print(
      "open {} (CompressedCheckpoint::open: mmap, header, grouping): min {:.3f} ms, median {:.3f} ms "
      "of {} (target <= 50 ms)\n",
      gib(bytes), big_open.min_ms, big_open.median_ms, open_repeat);
  fmt::print("  peak RSS of the opening process: {} KiB for {}, {} KiB for a 16 MiB file ({} KiB before opening)\n",
             big_open.rss_after_kib, gib(bytes), small_open.rss_after_kib, big_open.rss_before_kib);
  return 0;
}
