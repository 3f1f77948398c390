// The engine switch: one call site for the runtime, whichever engine runs the kernels.
#include "compiler/codegen/engine.h"

#include "compiler/interp/interpreter.h"

namespace kmr::codegen {

Expected<std::unique_ptr<KernelEngine>> KernelEngine::create(EngineOptions options) {
  std::unique_ptr<KernelEngine> engine(new KernelEngine());
  engine->options_ = options;
  if (options.use_jit) {
    auto jit = Jit::create(options.jit);
    if (!jit) return jit.error();
    engine->jit_ = std::move(*jit);
  }
  return engine;
}

Expected<kir::KernelOutput> KernelEngine::run(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                              const kir::ParamValues& params) {
  if (jit_) return jit_->run(kernel, input, params, options_.threads);
  return interp::run(kernel.kernel, input, params);
}

}  // namespace kmr::codegen
