// KIR -> LLVM IR: one function per sweep of a laid-out kernel (see layout.h for the ABI).
// Included only by codegen .cpp files; LLVM types are forward-declared here.
#pragma once

#include <memory>
#include <string>

#include "compiler/codegen/layout.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace kmr::codegen {

/// What a generated sweep function does with a row:
/// - Normal: every column (vectorised, branch-free);
/// - Diagnose: every column until the first failing element, described in `record`;
/// - Gather: only the columns listed at `record`, read as int64s [n, c1, ..., cn], their
///   weights packed at `in` in list order (the speculative pass's fix-ups of single units,
///   whose weights are at hand; sweeps without group values only).
enum class SweepVariant { Normal, Diagnose, Gather };

/// The symbol of the function for sweep (pass, sweep): `<prefix>_p<pass>s<sweep>`, with a
/// `d` (diagnostic) or `g` (gather) before the pass for the other variants.
std::string sweep_symbol(const std::string& prefix, int pass, int sweep, SweepVariant variant);

/// The accumulating add of a sum of f32 terms that only measures read carries this
/// accuracy (`!fpmath`, in units in the last place of its f64 result: f32's precision),
/// which the loop vectorizer keeps on the vector adds it makes of it. The JIT then adds the
/// terms of one vector iteration in f32 before they meet the f64 accumulator (jit.cpp,
/// docs/kernels.md): converting and adding every term in f64 was a fifth of the fused
/// prune + int8 kernel.
constexpr float kF32TermsUlps = 0x1p29f;

/// Which of a kernel's sweep functions a module holds. A kernel's code is compiled as up to
/// three modules, each when it is first needed:
/// - Main: every sweep but the native scans' fallbacks, and the gather variant of the
///   output sweep of a kernel with Layout::speculation; compiled with the kernel.
/// - NativeFallbacks: the sweeps a native loop runs instead (SweepPlan::native_quantile),
///   needed by runs where it cannot (no AVX-512, a tensor bracketed some other way, reruns);
///   a third of the fused prune + int8 kernel's compile time.
/// - Diagnostics: the diagnostic variants of the sweeps that can fail, for a run that failed.
enum class SweepSet { Main, NativeFallbacks, Diagnostics };

/// Whether `set` holds a function for sweep `plan` (gather variants aside).
bool sweep_in_set(const SweepPlan& plan, SweepSet set);

/// A module holding `set`'s functions (SweepFn signature). Diagnostic variants are scalar
/// loops with no side effects that stop at their row's first failing element and describe
/// it in `record` (DiagRecord layout). Normal sweeps keep their inner loop free of branches
/// and aliasing (noalias pointers, contiguous f32 loads) so the loop vectorizer takes it.
std::unique_ptr<llvm::Module> emit_module(const Layout& layout, llvm::LLVMContext& context, const std::string& prefix,
                                          SweepSet set);

}  // namespace kmr::codegen
