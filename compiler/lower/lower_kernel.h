// Lowering of checked kernels and pipelines to KIR: parameters bound, kernel calls
// inlined, and a pipeline's consecutive kernel rules fused into one kernel.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "compiler/kir/kir.h"
#include "compiler/sema/checker.h"

namespace kmr::lower {

/// Lowers kernel declaration `kernel` of a checked program: its tensor parameter becomes
/// the input, its other parameters scalar params (defaults recorded for display), calls to
/// other kernels are inlined (their measures kept as `callee.name`), and `if` on uniform
/// conditions becomes select. Requires: `program` checked without errors. Reports what KIR
/// cannot express to `sink` (E064, at the construct) and returns nullopt then.
std::optional<kir::Kernel> lower_kernel(const sema::CheckedProgram& program, const ast::KernelDecl& kernel,
                                        diag::DiagnosticSink& sink);

/// One step of a pipeline after fusion: either a fused KIR kernel (the rules it fuses, in
/// order) or a native rule (lowrank, distill, ...) that runs outside KIR.
struct PipelineStep {
  std::vector<std::string> rules;
  std::optional<kir::Kernel> kernel;  // empty for a native rule
  std::string native;                 // the native kernel's name
};

/// Fuses pipeline `pipeline`'s rules: consecutive rules whose kernels are written in KMR
/// and apply `on` the same selection become one kernel whose input is the tensor before
/// the first of them (the tensor result of one feeds the next). A step breaks at a native
/// rule, after a rule that yields quantized codes, and where the selection changes.
/// The fused kernel's parameters are the knobs its rules' arguments read (defaults
/// recorded); constant arguments are folded in; measures are named `rule.measure`.
std::optional<std::vector<PipelineStep>> lower_pipeline(const sema::CheckedProgram& program,
                                                        const ast::ValueDecl& pipeline, diag::DiagnosticSink& sink);

}  // namespace kmr::lower

namespace kmr::lower {

/// The kernels of a file, for `kmrc emit kir`: every (non-native) kernel declared in
/// `module`, then the fused steps of each of its pipelines, in declaration order.
std::vector<kir::Kernel> lower_module_kernels(const sema::CheckedProgram& program, const ast::Module& module,
                                              diag::DiagnosticSink& sink);

}  // namespace kmr::lower
