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

/// The symbol of the function for sweep (pass, sweep): `<prefix>_p<pass>s<sweep>`, with a
/// `d` before the pass for the diagnostic variant.
std::string sweep_symbol(const std::string& prefix, int pass, int sweep, bool diagnose);

/// A module holding one function per sweep of `layout` (SweepFn signature), or, with
/// `diagnose`, the diagnostic variants of the sweeps that can fail: scalar loops with no
/// side effects that stop at their row's first failing element and describe it in
/// `record` (DiagRecord layout). Normal sweeps keep their inner loop free of branches and
/// aliasing (noalias pointers, contiguous f32 loads) so the loop vectorizer takes it.
std::unique_ptr<llvm::Module> emit_module(const Layout& layout, llvm::LLVMContext& context, const std::string& prefix,
                                          bool diagnose);

}  // namespace kmr::codegen
