// How kernels run for `kmrc run` and the runtime: JIT-compiled native code, or the
// reference interpreter with `--no-jit`; the same outputs either way.
#pragma once

#include <memory>

#include "compiler/codegen/jit.h"
#include "compiler/kir/tensor.h"
#include "compiler/passes/optimize.h"
#include "support/expected.h"

namespace kmr::codegen {

struct EngineOptions {
  bool use_jit = true;  // false: `--no-jit`, the interpreter
  int threads = 1;      // rows are partitioned over this many threads (JIT only)
  JitOptions jit;
};

class KernelEngine {
 public:
  /// With use_jit, fails when the JIT cannot be set up for this host.
  static Expected<std::unique_ptr<KernelEngine>> create(EngineOptions options = {});

  /// Runs `kernel` on `input` with `params` on the chosen engine.
  Expected<kir::KernelOutput> run(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                  const kir::ParamValues& params);

  bool uses_jit() const { return jit_ != nullptr; }
  /// The JIT (for its statistics), or null with `--no-jit`.
  Jit* jit() { return jit_.get(); }

 private:
  KernelEngine() = default;
  EngineOptions options_;
  std::unique_ptr<Jit> jit_;
};

}  // namespace kmr::codegen
