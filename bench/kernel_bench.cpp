// Kernel throughput on a 4096 x 11008 f32 matrix (Gaussian rows, a few outlier columns,
// seeded; in huge pages, as `kmrc run` decodes tensors, and so are memcpy's and the
// floors' destinations): plain memcpy, with the memory's floors for one pass and for a
// pre-pass plus a pass; then the JIT's int8 per-row quantisation, fused exact 50% pruning
// + int8, int4 per group of 64 and the interpreter, as GB/s of f32 input and as ratios to
// memcpy, each kernel's runs alternating with memcpy's (the same stretch of time); the
// fused kernel in one read of the tensor against two, alternating; and the JIT's compile
// time, cold and from the caches, and that of the native scans' fallbacks on the first
// run that needs them.
// Usage: kernel_bench [runs=5] [--no-interpreter]. Figures: docs/performance.md.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

#include "compiler/codegen/executor_testing.h"
#include "compiler/codegen/jit.h"
#include "compiler/interp/interpreter.h"
#include "support/large_buffers.h"
#include "kernel_workload.h"

namespace {

using kmr::bench::kBytes;
using kmr::bench::kCols;
using kmr::bench::kRows;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Timing {
  double best = 0, median = 0;  // seconds
};

// Runs each of `fns` in turn, `runs` rounds after one that warms (compiles, faults in the
// outputs), so that all see the same stretch of the machine's time: its memory and CPU
// speed drift by up to 2x between minutes here.
std::vector<Timing> alternate(int runs, const std::vector<std::function<void()>>& fns) {
  std::vector<std::vector<double>> t(fns.size());
  for (int round = 0; round <= runs; ++round)
    for (size_t i = 0; i < fns.size(); ++i) {
      auto start = std::chrono::steady_clock::now();
      fns[i]();
      if (round > 0) t[i].push_back(seconds_since(start));
    }
  std::vector<Timing> out;
  for (auto& v : t) {
    std::sort(v.begin(), v.end());
    out.push_back({v.front(), v[v.size() / 2]});
  }
  return out;
}

Timing time_runs(int runs, const std::function<void()>& fn) { return alternate(runs, {fn}).front(); }

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  bool interpreter = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-interpreter") == 0) interpreter = false;
    else runs = std::max(1, std::atoi(argv[i]));
  }
  auto jit_or = kmr::codegen::Jit::create(kmr::codegen::JitOptions{""});
  if (!jit_or) {
    fmt::print(stderr, "{}\n", jit_or.error().message);
    return 1;
  }
  auto& jit = **jit_or;
  fmt::print("machine: {} ({} online CPUs), LLVM target {}\n", cpu_model(), sysconf(_SC_NPROCESSORS_ONLN),
             jit.host().substr(0, jit.host().find(' ')));
  fmt::print("matrix: {} x {} f32 ({:.1f} MB), {} timed runs each (best / median)\n\n", kRows, kCols, kBytes / 1e6, runs);
  auto w = kmr::bench::make_matrix();
  kmr::kir::TensorView view{"w", w.data(), kRows, kCols};
  auto kernels = kmr::bench::compile_workload();

  // 1. memcpy, rows split over the threads like the kernels'.
  auto split = [&](int threads, const auto& fn) {  // fn(first, last) on each thread's share
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { fn(w.size() * t / threads, w.size() * (t + 1) / threads); });
    for (auto& thread : pool) thread.join();
  };
  std::vector<float> dest;
  kmr::resize_large(dest, w.size());
  auto copy = [&](int threads) {
    split(threads, [&](size_t first, size_t last) {
      std::memcpy(dest.data() + first, w.data() + first, (last - first) * sizeof(float));
    });
  };
  double copy_gbs[3] = {0, 0, 0};
  for (int threads : {1, 2}) {
    auto timing = time_runs(runs, [&] { copy(threads); });
    copy_gbs[threads] = kBytes / timing.best / 1e9;
    fmt::print("memcpy                          {} thread{}: {:6.1f} GB/s (median {:6.1f})\n", threads,
               threads == 1 ? " " : "s", copy_gbs[threads], kBytes / timing.median / 1e9);
  }
  // The memory's floors for what the kernels move (2 threads): reading the matrix alone,
  // as a pre-pass does, and reading it while writing a byte per weight, as int8 codes do.
  // A kernel with a pre-pass cannot take less than the two together. SSE2 where there is
  // one: generic vector code at -O2 is bound by its lane moves, not by memory.
  std::vector<uint8_t> bytes;
  kmr::resize_large(bytes, w.size());
  std::atomic<uint32_t> sink{0};  // keeps the reads
  auto read_only = time_runs(runs, [&] {
    split(2, [&](size_t first, size_t last) {
      uint32_t acc = 0;
#if defined(__SSE2__)
      __m128i lanes[4] = {};
      for (; first + 16 <= last; first += 16)
        for (int j = 0; j < 4; ++j)
          lanes[j] = _mm_or_si128(lanes[j], _mm_loadu_si128(reinterpret_cast<const __m128i*>(&w[first + 4 * j])));
      __m128i all = _mm_or_si128(_mm_or_si128(lanes[0], lanes[1]), _mm_or_si128(lanes[2], lanes[3]));
      acc = static_cast<uint32_t>(_mm_cvtsi128_si32(all));
#endif
      for (size_t i = first; i < last; ++i) {
        uint32_t b;
        std::memcpy(&b, &w[i], sizeof b);
        acc |= b;
      }
      sink |= acc;
    });
  });
  auto read_write = time_runs(runs, [&] {
    split(2, [&](size_t first, size_t last) {
#if defined(__SSE2__)
      for (; first + 16 <= last; first += 16) {  // each weight's top byte, packed
        __m128i q[4];
        for (int j = 0; j < 4; ++j)
          q[j] = _mm_srli_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&w[first + 4 * j])), 24);
        __m128i b = _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(&bytes[first]), b);
      }
#endif
      for (size_t i = first; i < last; ++i) {
        uint32_t b;
        std::memcpy(&b, &w[i], sizeof b);
        bytes[i] = static_cast<uint8_t>(b >> 24);
      }
    });
  });
  fmt::print("floor: read only                2 threads: {:6.1f} ms, read + byte per weight {:6.1f} ms (sum {:.1f} ms, "
             "{:.2f}x memcpy)\n\n",
             read_only.best * 1e3, read_write.best * 1e3, (read_only.best + read_write.best) * 1e3,
             kBytes / (read_only.best + read_write.best) / 1e9 / copy_gbs[2]);

  // 2. The JIT's kernels, each run alternating with memcpy on as many threads: its ratio
  //    to memcpy is taken over the same stretch of time (best to best).
  kmr::kir::KernelOutput out;
  for (const auto& c : kmr::bench::workload_cases()) {
    const auto& kernel = kmr::bench::find_kernel(kernels, c.kernel);
    for (int threads : {1, 2}) {
      bool ok = true;
      auto t = alternate(runs, {[&] { ok &= jit.run_into(kernel, view, c.params, threads, out).ok(); },
                                [&] { copy(threads); }});
      if (!ok) {
        fmt::print(stderr, "{} failed\n", c.label);
        return 1;
      }
      double gbs = kBytes / t[0].best / 1e9, alongside = kBytes / t[1].best / 1e9;
      fmt::print("{:32}{} thread{}: {:6.1f} GB/s (median {:6.1f}), {:5.2f}x memcpy at {:5.1f} GB/s, {:6.1f} ms\n",
                 c.label, threads, threads == 1 ? " " : "s", gbs, kBytes / t[0].median / 1e9, gbs / alongside, alongside,
                 t[0].best * 1e3);
    }
  }

  // One read of the tensor (Layout::speculation) against two, alternating.
  {
    const auto& fused = kmr::bench::workload_case("fused");
    const auto& kernel = kmr::bench::find_kernel(kernels, fused.kernel);
    bool ok = true;
    auto reads = [&](bool one) {
      kmr::codegen::testing::SpeculationOverride speculation(one);
      ok &= jit.run_into(kernel, view, fused.params, 2, out).ok();
    };
    auto t = alternate(2 * runs, {[&] { reads(true); }, [&] { reads(false); }});
    if (!ok) return 1;
    fmt::print("prune + int8, one read vs two   2 threads: {:6.1f} / {:6.1f} ms (medians {:.1f} / {:.1f} ms, {} runs "
               "each, alternating)\n",
               t[0].best * 1e3, t[1].best * 1e3, t[0].median * 1e3, t[1].median * 1e3, 2 * runs);
  }

  // 3. The interpreter on the int8 kernel (one run: it is slow), checked against the JIT.
  if (interpreter) {
    const auto& int8 = kmr::bench::workload_case("int8");
    const auto& kernel = kmr::bench::find_kernel(kernels, int8.kernel);
    auto start = std::chrono::steady_clock::now();
    auto reference = kmr::interp::run(kernel.kernel, view, int8.params);
    double t = seconds_since(start);
    bool same = reference.ok() && jit.run_into(kernel, view, int8.params, 2, out).ok() && reference->codes == out.codes &&
                reference->scales == out.scales;
    fmt::print("{:32}1 thread : {:6.3f} GB/s, {:7.4f}x memcpy, {:6.1f} s; JIT codes and scales {}\n",
               "interpreter, int8 per row", kBytes / t / 1e9, kBytes / t / 1e9 / copy_gbs[1], t,
               same ? "identical" : "DIFFER");
  }

  // 4. Compile time per kernel, in fresh JITs (best and median of `runs`): cold, then
  //    from the disk cache (another fresh JIT, the same directory), then from memory.
  fmt::print("\nJIT compile time (KIR -> LLVM IR -> O3 -> object -> linked), best / median of {}:\n", runs);
  std::string dir = (std::filesystem::temp_directory_path() / fmt::format("kmr-bench-cache-{}", getpid())).string();
  int compiled_by_cache_users = 0;
  // A tensor the native weight scan does not take (too small to sample a bracket): its
  // first run compiles the kernel's native scans' fallbacks, where it has some.
  kmr::kir::TensorView small{"w", w.data(), 4, 16};
  const auto& int8 = kmr::bench::workload_case("int8");
  const auto& fused = kmr::bench::workload_case("fused");
  const auto& prune = kmr::bench::workload_case("prune");
  const std::pair<const char*, kmr::kir::ParamValues> compiled_kernels[] = {
      {int8.kernel, int8.params}, {fused.kernel, fused.params}, {prune.kernel, prune.params}, {"quantize_asym", int8.params}};
  for (const auto& [name, params] : compiled_kernels) {
    const auto& kernel = kmr::bench::find_kernel(kernels, name);
    std::vector<double> cold, disk, memory, fallbacks;
    for (int i = 0; i < runs; ++i) {
      std::filesystem::remove_all(dir);
      auto first = kmr::codegen::Jit::create(kmr::codegen::JitOptions{dir});
      auto second = kmr::codegen::Jit::create(kmr::codegen::JitOptions{dir});
      if (!first || !second) return 1;
      auto start = std::chrono::steady_clock::now();
      bool ok = (*first)->compile(kernel).ok();
      cold.push_back(seconds_since(start) * 1e3);
      int compiled = (*first)->stats().compiled;
      start = std::chrono::steady_clock::now();
      ok &= (*first)->run_into(kernel, small, params, 1, out).ok();
      if ((*first)->stats().compiled > compiled) fallbacks.push_back(seconds_since(start) * 1e3);
      start = std::chrono::steady_clock::now();
      ok &= (*second)->compile(kernel).ok();
      disk.push_back(seconds_since(start) * 1e3);
      start = std::chrono::steady_clock::now();
      ok &= (*second)->compile(kernel).ok();
      memory.push_back(seconds_since(start) * 1e3);
      compiled_by_cache_users += (*second)->stats().compiled;
      if (!ok) {
        fmt::print(stderr, "compiling {} failed\n", name);
        return 1;
      }
    }
    for (auto* t : {&cold, &disk, &memory, &fallbacks}) std::sort(t->begin(), t->end());
    fmt::print("  {:22} compiled {:5.1f} / {:5.1f} ms, from disk {:4.2f} / {:4.2f} ms, from memory {:6.4f} ms\n", name,
               cold.front(), cold[runs / 2], disk.front(), disk[runs / 2], memory[runs / 2]);
    if (!fallbacks.empty())
      fmt::print("  {:22} its native scan's fallback, on the first run that needs it: {:5.1f} / {:5.1f} ms\n", "",
                 fallbacks.front(), fallbacks[fallbacks.size() / 2]);
  }
  fmt::print("  JITs reading the disk cache compiled {} kernels\n", compiled_by_cache_users);
  std::filesystem::remove_all(dir);
  return 0;
}
