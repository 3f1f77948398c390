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

/// A module holding one function per sweep of `layout` (SweepFn signature), and the gather
/// variant of the output sweep of a kernel with Layout::speculation; or, with `diagnose`,
/// the diagnostic variants of the sweeps that can fail: scalar loops with no side effects
/// that stop at their row's first failing element and describe it in `record` (DiagRecord
/// layout). Normal sweeps keep their inner loop free of branches and aliasing (noalias
/// pointers, contiguous f32 loads) so the loop vectorizer takes it.
std::unique_ptr<llvm::Module> emit_module(const Layout& layout, llvm::LLVMContext& context, const std::string& prefix,
                                          bool diagnose);

}  // namespace kmr::codegen
