// A kernel's generated code as the executor sees it: its layout and plain function
// pointers (no LLVM types), valid while the Jit that compiled it lives.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "compiler/codegen/layout.h"
#include "compiler/passes/optimize.h"
#include "support/expected.h"

namespace kmr::codegen {

using SweepTable = std::vector<std::vector<SweepFn>>;  // [pass][sweep]

/// Sweep functions compiled when a run first needs them (emit_llvm.h, SweepSet).
class LazySweepTable {
 public:
  /// Compiles the functions (null for sweeps the set does not hold); called at most once
  /// successfully, through get().
  std::function<Expected<SweepTable>()> compile;

  /// The functions, compiled on first use (thread-safe).
  Expected<const SweepTable*> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!table_) {
      auto table = compile ? compile() : Expected<SweepTable>(Error{"no such code"});
      if (!table) return table.error();
      table_ = std::move(*table);
    }
    return &*table_;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::optional<SweepTable> table_;
};

struct CompiledKernel {
  passes::PreparedKernel prepared;  // the structure the code was generated from (owns the layout's nodes)
  Layout layout;
  SweepTable sweeps;  // SweepSet::Main (null for the native scans' fallbacks)
  SweepFn gather = nullptr;  // the output sweep's gather variant (Layout::speculation), else null
  LazySweepTable native_fallbacks;  // SweepSet::NativeFallbacks: when a run cannot scan natively
  LazySweepTable diagnostics;       // SweepSet::Diagnostics: on the first run that fails
};

}  // namespace kmr::codegen
