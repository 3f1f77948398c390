// The pass pipeline as a script: each step named, the verifier after the risky ones.
#include "compiler/passes/optimize.h"

#include "compiler/kir/verifier.h"
#include "compiler/passes/simplify.h"

namespace kmr::passes {

Expected<PreparedKernel> prepare(const kir::Kernel& lowered) {
  if (auto status = kir::verify(lowered); !status) return status.error();
  PreparedKernel out;
  out.kernel = simplify(lowered);
  if (auto status = kir::verify(out.kernel); !status) return status.error();
  out.schedule = schedule(out.kernel);
  return out;
}

}  // namespace kmr::passes
