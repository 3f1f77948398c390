// The LLVM JIT of KIR kernels: native code for this CPU, cached in memory by structural
// hash and on disk, run over a tensor's rows on a thread pool. No LLVM types here.
#pragma once

#include <memory>
#include <string>

#include "compiler/codegen/disk_cache.h"
#include "compiler/kir/tensor.h"
#include "compiler/passes/optimize.h"
#include "support/expected.h"

namespace kmr::codegen {

struct JitOptions {
  /// The on-disk object cache ("" disables it).
  std::string cache_dir = default_cache_dir();
};

/// What a Jit has done since it was created.
struct JitStats {
  int compiled = 0;       // modules LLVM compiled (IR -> optimised -> object code): emit_llvm.h's SweepSet
  int memory_hits = 0;    // kernels found in the in-memory cache
  int disk_hits = 0;      // kernels loaded from the disk cache (nothing compiled)
  int disk_writes = 0;    // objects written to the disk cache
  int disk_rejected = 0;  // cache files present but invalid: ignored, then rewritten
  double last_prepare_ms = 0;  // time of the last cache miss: compile or load, and link
};

/// One JIT: an ORC LLJIT for the host (CPU name and features detected, O3 pipeline), its
/// compiled kernels (one ResourceTracker each) and a thread pool. Thread-safe.
class Jit {
 public:
  /// Fails (with LLVM's message) when the host target cannot be set up.
  static Expected<std::unique_ptr<Jit>> create(JitOptions options = {});
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  /// Makes the code of `kernel` ready: from memory (same structure compiled before), from
  /// the disk cache (key: structure, LLVM version, CPU name and features), or by compiling
  /// it (and storing it on disk). A corrupted cache file is ignored and rewritten.
  Status compile(const passes::PreparedKernel& kernel);

  /// Runs `kernel` on `input` (compiling it first if needed) on `threads` threads: the
  /// same output as interp::run (codes exactly, floats within 1 ulp, sums and measures to
  /// rounding), identical for any thread count. Errors name the kernel and the tensor.
  Expected<kir::KernelOutput> run(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                  const kir::ParamValues& params, int threads = 1);

  /// As run(), into `out`, reusing its buffers (no allocation once they have the size).
  Status run_into(const passes::PreparedKernel& kernel, const kir::TensorView& input, const kir::ParamValues& params,
                  int threads, kir::KernelOutput& out);

  JitStats stats() const;
  /// "cpu-name +feature,+feature,...": what the code is compiled for.
  std::string host() const;

 private:
  struct Impl;
  explicit Jit(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The LLVM IR of `kernel`'s sweep functions for this host, after the O3 pipeline unless
/// `optimize` is false (`kmrc emit llvm`).
Expected<std::string> emit_llvm_ir(const passes::PreparedKernel& kernel, bool optimize = true);

}  // namespace kmr::codegen
