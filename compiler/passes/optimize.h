// The kernel pass pipeline, step by step: verify, simplify (CSE + folding), verify, schedule.
#pragma once

#include "compiler/kir/kir.h"
#include "compiler/passes/schedule.h"
#include "support/expected.h"

namespace kmr::passes {

/// A kernel ready to run: simplified, verified and scheduled.
struct PreparedKernel {
  kir::Kernel kernel;
  Schedule schedule;
};

/// Runs the kernel passes on a lowered kernel. Fails (a compiler bug, reported as an
/// Error naming the kernel) only when the verifier rejects a step's output.
Expected<PreparedKernel> prepare(const kir::Kernel& kernel);

}  // namespace kmr::passes
