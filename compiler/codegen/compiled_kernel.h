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

struct CompiledKernel {
  passes::PreparedKernel prepared;  // the structure the code was generated from (owns the layout's nodes)
  Layout layout;
  SweepTable sweeps;
  SweepFn gather = nullptr;  // the output sweep's gather variant (Layout::speculation), else null
  /// Compiles the diagnostic variants (null where a sweep cannot fail); called at most once,
  /// on the first run that fails, through diagnostics().
  std::function<Expected<SweepTable>()> compile_diagnostics;

  /// The diagnostic variants, compiled on first use (thread-safe).
  Expected<const SweepTable*> diagnostics() const {
    std::lock_guard<std::mutex> lock(diag_mutex_);
    if (!diag_) {
      auto table = compile_diagnostics ? compile_diagnostics() : Expected<SweepTable>(Error{"no diagnostic code"});
      if (!table) return table.error();
      diag_ = std::move(*table);
    }
    return &*diag_;
  }

 private:
  mutable std::mutex diag_mutex_;
  mutable std::optional<SweepTable> diag_;
};

}  // namespace kmr::codegen
