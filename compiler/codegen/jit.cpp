// The JIT: OrcJit (the one class that touches ORC: host target, O3, object code, linking
// with a ResourceTracker per kernel) and the caches in front of it.
#include "compiler/codegen/jit.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Analysis/ValueTracking.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include "compiler/codegen/compiled_kernel.h"
#include "compiler/codegen/emit_llvm.h"
#include "compiler/codegen/executor.h"
#include "compiler/codegen/run_state.h"
#include "compiler/codegen/thread_pool.h"

namespace kmr::codegen {
namespace {

Error from_llvm(llvm::Error error, const std::string& what) {
  return Error{fmt::format("JIT: {}: {}", what, llvm::toString(std::move(error)))};
}

llvm::Error llvm_error(const std::string& message) {
  return llvm::make_error<llvm::StringError>(message, llvm::inconvertibleErrorCode());
}

// The host as the code is compiled for it (and as cache keys name it).
struct Host {
  std::string triple, cpu, features;
};

Host detect_host() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
  Host host;
  host.triple = llvm::sys::getProcessTriple();
  host.cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features;
  std::map<std::string, bool> sorted;  // a stable order, so cache keys are stable
  if (llvm::sys::getHostCPUFeatures(features))
    for (const auto& feature : features) sorted[feature.getKey().str()] = feature.getValue();
  for (const auto& [name, on] : sorted) host.features += (host.features.empty() ? "" : ",") + std::string(on ? "+" : "-") + name;
  return host;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> make_target_machine(const Host& host) {
  std::string error;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(host.triple, error);
  if (!target) return llvm_error(error);
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Strict;  // no FMA contraction: the interpreter's rounding
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      host.triple, host.cpu, host.features, options, llvm::Reloc::PIC_, llvm::CodeModel::Small, llvm::CodeGenOpt::Aggressive));
  if (!machine) return llvm_error("cannot create a target machine for " + host.triple);
  return machine;
}

// Keeps selects between vectors as blends. The vectorized sweeps choose between vectors on
// scalar conditions (a coarse value: x / scale when scale is 0), which x86 code generation
// lowers to a branch around the select inside the loop: the same choice for every element,
// paid as a compare and two jumps per vector. A condition splat to a vector mask (made
// once, where the scalar is defined) is a masked move instead.
void blend_vector_selects(llvm::Module& module) {
  std::vector<llvm::SelectInst*> selects;
  for (auto& function : module)
    for (auto& block : function)
      for (auto& instruction : block)
        if (auto* select = llvm::dyn_cast<llvm::SelectInst>(&instruction))
          if (select->getType()->isVectorTy() && !select->getCondition()->getType()->isVectorTy())
            selects.push_back(select);
  for (auto* select : selects) {
    llvm::Value* condition = select->getCondition();
    llvm::Instruction* at = &*select->getFunction()->getEntryBlock().getFirstInsertionPt();
    if (auto* defined = llvm::dyn_cast<llvm::Instruction>(condition))
      at = llvm::isa<llvm::PHINode>(defined) ? &*defined->getParent()->getFirstInsertionPt() : defined->getNextNode();
    llvm::IRBuilder<> builder(at);
    auto count = llvm::cast<llvm::VectorType>(select->getType())->getElementCount();
    select->setCondition(builder.CreateVectorSplat(count, condition));
  }
}

// The vectorised output loops store a chunk's codes as four truncations to <N x i8> at P,
// P+N, P+2N and P+3N, each written into a cache line that is first read from memory
// (45 MB of codes read for nothing on the bench matrix). Each such group becomes one
// non-temporal store of the four values' concatenation, which fills whole lines without
// reading them: the same bytes. Codes are the only byte vectors the sweeps store, and
// the emitter starts every chunk of codes at a 16-byte aligned address (the vector loop
// steps by 4N bytes from there), as non-temporal vector stores require. Before returning,
// a sweep that streamed fences its stores, so that the rows it wrote are visible in order
// to whichever thread reads them next.
void stream_code_stores(llvm::Module& module) {
  // x86's fence and vector non-temporal stores; other targets keep the plain stores.
  if (llvm::Triple(module.getTargetTriple()).getArch() != llvm::Triple::x86_64) return;
  constexpr int kGroup = 4;
  auto byte_vector = [](llvm::StoreInst* store) -> llvm::FixedVectorType* {
    auto* type = llvm::dyn_cast<llvm::FixedVectorType>(store->getValueOperand()->getType());
    const llvm::Function* sweep = store->getFunction();  // (in, out, ...): see SweepFn
    bool to_output = sweep->arg_size() > 1 && llvm::getUnderlyingObject(store->getPointerOperand()) == sweep->getArg(1);
    return type && type->getElementType()->isIntegerTy(8) && !store->isVolatile() && to_output ? type : nullptr;
  };
  auto offset_from = [](llvm::StoreInst* store, llvm::Value* base) -> std::optional<int64_t> {
    llvm::Value* address = store->getPointerOperand();
    if (address == base) return 0;
    auto* gep = llvm::dyn_cast<llvm::GetElementPtrInst>(address);
    if (!gep || gep->getPointerOperand() != base || gep->getNumIndices() != 1 || !gep->getSourceElementType()->isIntegerTy(8))
      return std::nullopt;
    auto* index = llvm::dyn_cast<llvm::ConstantInt>(gep->getOperand(1));
    return index ? std::optional<int64_t>(index->getSExtValue()) : std::nullopt;
  };
  for (auto& function : module) {
    bool any = false;
    for (auto& block : function) {
      std::vector<std::array<llvm::StoreInst*, kGroup>> groups;
      for (auto it = block.begin(); it != block.end(); ++it) {
        auto* first = llvm::dyn_cast<llvm::StoreInst>(&*it);
        llvm::FixedVectorType* type = first ? byte_vector(first) : nullptr;
        if (!type) continue;
        std::array<llvm::StoreInst*, kGroup> group{first};
        int found = 1;
        auto width = static_cast<int64_t>(type->getNumElements());
        for (auto next = std::next(it); next != block.end() && found < kGroup; ++next) {
          if (llvm::isa<llvm::GetElementPtrInst>(&*next)) continue;
          auto* store = llvm::dyn_cast<llvm::StoreInst>(&*next);
          if (!store || byte_vector(store) != type || offset_from(store, first->getPointerOperand()) != width * found) break;
          group[found++] = store;
        }
        // Only whole 16-byte steps from the chunk's aligned start are known aligned.
        if (found < kGroup || width * kGroup % 16 != 0) continue;
        groups.push_back(group);
        it = group.back()->getIterator();
      }
      for (auto& group : groups) {
        llvm::IRBuilder<> builder(group.back());
        auto concat = [&](llvm::Value* a, llvm::Value* b) {
          auto n = static_cast<int>(llvm::cast<llvm::FixedVectorType>(a->getType())->getNumElements());
          std::vector<int> lanes(2 * n);
          for (int i = 0; i < 2 * n; ++i) lanes[i] = i;
          return builder.CreateShuffleVector(a, b, lanes);
        };
        llvm::Value* bytes = concat(concat(group[0]->getValueOperand(), group[1]->getValueOperand()),
                                    concat(group[2]->getValueOperand(), group[3]->getValueOperand()));
        auto* merged = builder.CreateAlignedStore(bytes, group[0]->getPointerOperand(), llvm::Align(16));
        auto* one = llvm::ConstantAsMetadata::get(builder.getInt32(1));
        merged->setMetadata(llvm::LLVMContext::MD_nontemporal, llvm::MDNode::get(module.getContext(), {one}));
        for (auto* store : group) store->eraseFromParent();
        any = true;
      }
    }
    if (any)
      for (auto& block : function)
        if (auto* ret = llvm::dyn_cast<llvm::ReturnInst>(block.getTerminator())) {
          llvm::IRBuilder<> builder(ret);
          builder.CreateIntrinsic(llvm::Intrinsic::x86_sse_sfence, {}, {});
        }
  }
}

// One of the vector parts a marked sum (kF32TermsUlps) is split into in a vectorised loop:
// `add` adds the f64 conversion of `terms` (f32) to `accumulator`, a phi of the loop's one
// block carried by `add` alone.
struct SumPart {
  llvm::PHINode* accumulator;
  llvm::Instruction* add;
  llvm::Value* terms;
};

std::optional<SumPart> marked_sum_part(llvm::PHINode& phi) {
  llvm::BasicBlock* loop = phi.getParent();
  auto* type = llvm::dyn_cast<llvm::FixedVectorType>(phi.getType());
  int latch = phi.getBasicBlockIndex(loop);
  if (!type || !type->getElementType()->isDoubleTy() || phi.getNumIncomingValues() != 2 || latch < 0 || !phi.hasOneUse())
    return std::nullopt;
  auto* add = llvm::dyn_cast<llvm::BinaryOperator>(phi.getIncomingValue(latch));
  if (!add || add->getOpcode() != llvm::Instruction::FAdd || add->getParent() != loop || !add->hasAllowReassoc() ||
      llvm::cast<llvm::FPMathOperator>(add)->getFPAccuracy() < kF32TermsUlps)
    return std::nullopt;
  if (add->getOperand(0) != &phi && add->getOperand(1) != &phi) return std::nullopt;
  llvm::Value* other = add->getOperand(add->getOperand(0) == &phi ? 1 : 0);
  auto* extension = llvm::dyn_cast<llvm::FPExtInst>(other);
  if (!extension || !extension->getSrcTy()->getScalarType()->isFloatTy()) return std::nullopt;
  return SumPart{&phi, add, extension->getOperand(0)};
}

// After the loop the vectorizer adds a sum's parts together (fadds, through phis), then
// reduces the lanes: that last instruction names the sum a part belongs to (null when the
// part's value goes anywhere else).
llvm::Instruction* sum_end(const SumPart& part) {
  llvm::Instruction* at = part.add;
  for (int step = 0; step < 32; ++step) {
    llvm::Instruction* next = nullptr;
    for (llvm::User* user : at->users()) {
      if (user == part.accumulator) continue;
      if (next) return nullptr;
      next = llvm::cast<llvm::Instruction>(user);
    }
    if (!next || next->getParent() == part.add->getParent()) return nullptr;
    bool adds_parts = llvm::isa<llvm::PHINode>(next) || next->getOpcode() == llvm::Instruction::FAdd;
    if (!adds_parts) return next;
    at = next;
  }
  return nullptr;
}

// Parts of one sum become the first of them: their f32 terms added pairwise, converted
// and added to its accumulator once; the others' accumulators keep their start values.
void merge_sum_parts(const std::vector<SumPart>& parts) {
  llvm::Instruction* last = parts[0].add;
  for (const auto& part : parts)
    if (last->comesBefore(part.add)) last = part.add;
  llvm::IRBuilder<> builder(last->getNextNode());
  std::vector<llvm::Value*> terms;
  for (const auto& part : parts) terms.push_back(part.terms);
  while (terms.size() > 1) {
    std::vector<llvm::Value*> pairs;
    for (size_t i = 0; i + 1 < terms.size(); i += 2) pairs.push_back(builder.CreateFAdd(terms[i], terms[i + 1]));
    if (terms.size() % 2) pairs.push_back(terms.back());
    terms = std::move(pairs);
  }
  const SumPart& first = parts[0];
  auto* add = llvm::cast<llvm::Instruction>(
      builder.CreateFAdd(first.accumulator, builder.CreateFPExt(terms[0], first.accumulator->getType())));
  add->copyIRFlags(first.add);
  add->copyMetadata(*first.add);
  for (const auto& part : parts) {
    llvm::Value* replacement = add;
    if (part.add != first.add)
      replacement = part.accumulator->getIncomingValue(1 - part.accumulator->getBasicBlockIndex(part.add->getParent()));
    auto* extension = llvm::cast<llvm::Instruction>(part.add->getOperand(0) == part.accumulator ? part.add->getOperand(1)
                                                                                                : part.add->getOperand(0));
    part.add->replaceAllUsesWith(replacement);
    part.add->eraseFromParent();
    if (extension->use_empty()) extension->eraseFromParent();
    if (part.add != first.add && part.accumulator->use_empty()) part.accumulator->eraseFromParent();
  }
}

// A sum that only measures read adds the f32 terms of one vector iteration in f32 before
// they meet its f64 accumulator (docs/kernels.md). The vectorizer splits the sum over the
// loop's interleaved parts (four for the sweeps), each converting its f32 terms to f64 and
// adding them to an accumulator of its own: two 512-bit operations per 8 terms, a fifth of
// the fused prune + int8 kernel. Four parts merged cost three f32 adds, one conversion and
// one f64 add per 4 vectors.
void add_measured_terms_in_f32(llvm::Module& module) {
  constexpr size_t kMostTermsInF32 = 4;
  for (auto& function : module)
    for (auto& block : function) {
      std::vector<std::pair<llvm::Instruction*, std::vector<SumPart>>> sums;  // by end, in phi order
      for (auto& phi : block.phis()) {
        auto part = marked_sum_part(phi);
        llvm::Instruction* end = part ? sum_end(*part) : nullptr;
        if (!end) continue;
        auto sum = std::find_if(sums.begin(), sums.end(), [&](const auto& s) { return s.first == end; });
        if (sum == sums.end()) sum = sums.insert(sums.end(), {end, {}});
        sum->second.push_back(*part);
      }
      for (const auto& [end, parts] : sums)
        for (size_t first = 0; first + 1 < parts.size(); first += kMostTermsInF32)
          merge_sum_parts({parts.begin() + first, parts.begin() + std::min(parts.size(), first + kMostTermsInF32)});
    }
}

// The O3 pipeline, with the target's cost model (so the vectorizer uses its vector width).
void optimize(llvm::Module& module, llvm::TargetMachine& machine) {
  module.setDataLayout(machine.createDataLayout());
  module.setTargetTriple(machine.getTargetTriple().str());
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // The loop vectorizer on, interleaving too: one accumulator per reduction (a row max, a
  // meter's f64 sum) is a chain of dependent adds the memory stream waits on, and
  // interleaving splits it (the fused bench kernel 23 -> 21.4 ms for a fifth more compile
  // time; docs/performance.md). No SLP vectorizer: the sweeps' work is all in their loops.
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.LoopInterleaving = true;
  tuning.SLPVectorization = false;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(module, mam);
  blend_vector_selects(module);
  add_measured_terms_in_f32(module);
  stream_code_stores(module);
}

// A module fresh from the emitter, checked: a broken module is a compiler bug, reported.
llvm::Error verify(llvm::Module& module) {
  std::string message;
  llvm::raw_string_ostream os(message);
  if (llvm::verifyModule(module, &os)) return llvm_error("generated IR is invalid: " + os.str());
  return llvm::Error::success();
}

// The one class that talks to ORC.
class OrcJit {
 public:
  static llvm::Expected<std::unique_ptr<OrcJit>> create() {
    auto jit = std::unique_ptr<OrcJit>(new OrcJit());
    jit->host_ = detect_host();
    auto machine = make_target_machine(jit->host_);
    if (!machine) return machine.takeError();
    jit->machine_ = std::move(*machine);
    auto builder = llvm::orc::JITTargetMachineBuilder(llvm::Triple(jit->host_.triple));
    builder.setCPU(jit->host_.cpu);
    builder.setRelocationModel(llvm::Reloc::PIC_);
    builder.setCodeModel(llvm::CodeModel::Small);
    auto lljit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(builder)).create();
    if (!lljit) return lljit.takeError();
    jit->lljit_ = std::move(*lljit);
    // Generated code calls libm (expf, logf, powf): resolved in this process.
    auto libm = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        jit->lljit_->getDataLayout().getGlobalPrefix());
    if (!libm) return libm.takeError();
    jit->lljit_->getMainJITDylib().addGenerator(std::move(*libm));
    return jit;
  }

  const Host& host() const { return host_; }

  /// Optimises `module` (O3) and compiles it to an object file.
  llvm::Expected<std::string> compile(llvm::Module& module) {
    if (auto error = verify(module)) return error;
    optimize(module, *machine_);
    llvm::SmallVector<char, 0> buffer;
    llvm::raw_svector_ostream os(buffer);
    llvm::legacy::PassManager passes;
    if (machine_->addPassesToEmitFile(passes, os, nullptr, llvm::CGFT_ObjectFile))
      return llvm_error("the target cannot emit object files");
    passes.run(module);
    return std::string(buffer.begin(), buffer.end());
  }

  /// Links `object` under a new tracker and finds `symbols`; on failure nothing stays linked.
  llvm::Expected<std::vector<SweepFn>> load(const std::string& object, const std::vector<std::string>& symbols,
                                            llvm::orc::ResourceTrackerSP& tracker) {
    tracker = lljit_->getMainJITDylib().createResourceTracker();
    auto buffer = llvm::MemoryBuffer::getMemBufferCopy(object, "kmr-kernel");
    std::vector<SweepFn> out;
    llvm::Error error = lljit_->addObjectFile(tracker, std::move(buffer));
    for (size_t i = 0; !error && i < symbols.size(); ++i) {
      auto address = lljit_->lookup(symbols[i]);
      if (!address) error = address.takeError();
      else out.push_back(address->toPtr<SweepFn>());
    }
    if (error) {
      llvm::Error removed = tracker->remove();
      tracker = nullptr;
      return llvm::joinErrors(std::move(error), std::move(removed));
    }
    return out;
  }

 private:
  OrcJit() = default;
  Host host_;
  std::unique_ptr<llvm::TargetMachine> machine_;
  std::unique_ptr<llvm::orc::LLJIT> lljit_;
};

// The symbols of emit_module's functions: sweeps in [pass][sweep] order, then the gather
// variant where there is one (in SweepSet::Main).
std::vector<std::string> symbols_of(const Layout& layout, const std::string& prefix, SweepSet set) {
  std::vector<std::string> out;
  SweepVariant variant = set == SweepSet::Diagnostics ? SweepVariant::Diagnose : SweepVariant::Normal;
  for (const auto& pass : layout.sweeps)
    for (const auto& plan : pass)
      if (sweep_in_set(plan, set)) out.push_back(sweep_symbol(prefix, plan.pass, plan.sweep, variant));
  if (const SweepPlan* fixed = speculative_output(layout); fixed && set == SweepSet::Main)
    out.push_back(sweep_symbol(prefix, fixed->pass, fixed->sweep, SweepVariant::Gather));
  return out;
}

// Function pointers in [pass][sweep] order, from the flat list `symbols_of` made.
SweepTable to_table(const Layout& layout, const std::vector<SweepFn>& fns, SweepSet set) {
  SweepTable table(layout.sweeps.size());
  size_t next = 0;
  for (size_t p = 0; p < layout.sweeps.size(); ++p)
    for (const auto& plan : layout.sweeps[p])
      table[p].push_back(sweep_in_set(plan, set) ? fns[next++] : nullptr);
  return table;
}

bool has_native_fallbacks(const Layout& layout) {
  for (const auto& pass : layout.sweeps)
    for (const auto& plan : pass)
      if (sweep_in_set(plan, SweepSet::NativeFallbacks)) return true;
  return false;
}

}  // namespace

struct Jit::Impl {
  std::unique_ptr<OrcJit> orc;
  DiskCache disk{""};
  ThreadPool pool;
  BufferCache buffers;
  mutable std::mutex mutex;
  struct Entry {
    std::shared_ptr<CompiledKernel> code;
    std::vector<llvm::orc::ResourceTrackerSP> trackers;  // one per module of the kernel's code (SweepSet)
  };
  std::unordered_map<uint64_t, std::vector<Entry>> cache;  // by structural hash, then verified by structure
  JitStats stats;

  std::string disk_key(const Layout& layout) const {
    const Host& host = orc->host();
    return fmt::format("kmr-jit abi {}\nllvm {}\n{} {} {}\n{}", kCodegenAbiVersion, LLVM_VERSION_STRING, host.triple,
                       host.cpu, host.features, layout.canonical);
  }

  Expected<std::shared_ptr<const CompiledKernel>> get(const passes::PreparedKernel& prepared);
  /// `set`'s functions for the kernel of `entry` (symbols_of's order): loaded from the disk
  /// cache under `disk_key` (none when empty), else compiled (and stored there), then
  /// linked. `what` names the code in errors.
  Expected<std::vector<SweepFn>> load_or_compile(Entry& entry, const std::string& prefix, SweepSet set,
                                                 const std::string& disk_key, const std::string& what);
  /// A LazySweepTable's compile function: load_or_compile for the kernel `code`.
  std::function<Expected<SweepTable>()> lazy(const CompiledKernel* code, const std::string& prefix, SweepSet set,
                                             const std::string& disk_key, const std::string& what);
};

Expected<std::shared_ptr<const CompiledKernel>> Jit::Impl::get(const passes::PreparedKernel& prepared) {
  Layout layout = make_layout(prepared);
  std::lock_guard<std::mutex> lock(mutex);
  auto& entries = cache[layout.hash];
  for (const auto& entry : entries)
    if (entry.code->layout.canonical == layout.canonical) {
      ++stats.memory_hits;
      return std::shared_ptr<const CompiledKernel>(entry.code);
    }
  auto start = std::chrono::steady_clock::now();
  // Another structure with the same hash gets its own symbols (and no disk cache).
  size_t salt = entries.size();
  std::string prefix = fmt::format("kmr_{:016x}_{}", layout.hash, salt);
  auto code = std::make_shared<CompiledKernel>();
  code->prepared = prepared;  // shares the nodes, so keeps the layout's node pointers valid
  code->layout = std::move(layout);
  Entry entry;
  entry.code = code;
  std::string key = salt == 0 ? disk_key(code->layout) : "";
  std::string name = "kernel '" + prepared.kernel.name + "'";
  auto fns = load_or_compile(entry, prefix, SweepSet::Main, key, name);
  if (!fns) return fns.error();
  code->sweeps = to_table(code->layout, *fns, SweepSet::Main);
  if (speculative_output(code->layout)) code->gather = fns->back();
  // The fallbacks' disk key names the set: the same structure's main object is another file.
  if (has_native_fallbacks(code->layout))
    code->native_fallbacks.compile = lazy(code.get(), prefix, SweepSet::NativeFallbacks,
                                          key.empty() ? "" : key + "\nnative fallbacks", "the native scans' fallbacks of " + name);
  // Only for failures: never on disk.
  code->diagnostics.compile = lazy(code.get(), prefix, SweepSet::Diagnostics, "", "the diagnostics of " + name);
  stats.last_prepare_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  entries.push_back(std::move(entry));
  return std::shared_ptr<const CompiledKernel>(code);
}

Expected<std::vector<SweepFn>> Jit::Impl::load_or_compile(Entry& entry, const std::string& prefix, SweepSet set,
                                                          const std::string& disk_key, const std::string& what) {
  const Layout& layout = entry.code->layout;
  auto symbols = symbols_of(layout, prefix, set);
  std::optional<std::vector<SweepFn>> fns;
  if (!disk_key.empty()) {
    if (auto object = disk.load(disk_key)) {
      llvm::orc::ResourceTrackerSP tracker;
      auto loaded = orc->load(*object, symbols, tracker);
      if (loaded) {
        fns = std::move(*loaded);
        entry.trackers.push_back(tracker);
        ++stats.disk_hits;
      } else {
        llvm::consumeError(loaded.takeError());  // a stale or damaged object: compiled afresh below
        ++stats.disk_rejected;
      }
    } else if (std::ifstream(disk.path_of(disk_key)).good()) {
      ++stats.disk_rejected;
    }
  }
  if (!fns) {
    llvm::LLVMContext context;
    auto module = emit_module(layout, context, prefix, set);
    auto object = orc->compile(*module);
    if (!object) return from_llvm(object.takeError(), "compiling " + what);
    ++stats.compiled;
    if (!disk_key.empty() && disk.store(disk_key, *object).ok()) ++stats.disk_writes;
    llvm::orc::ResourceTrackerSP tracker;
    auto loaded = orc->load(*object, symbols, tracker);
    if (!loaded) return from_llvm(loaded.takeError(), "linking " + what);
    fns = std::move(*loaded);
    entry.trackers.push_back(tracker);
  }
  return std::move(*fns);
}

std::function<Expected<SweepTable>()> Jit::Impl::lazy(const CompiledKernel* code, const std::string& prefix,
                                                      SweepSet set, const std::string& disk_key, const std::string& what) {
  return [this, code, prefix, set, disk_key, what]() -> Expected<SweepTable> {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [hash, list] : cache)
      for (auto& entry : list)
        if (entry.code.get() == code) {
          auto fns = load_or_compile(entry, prefix, set, disk_key, what);
          if (!fns) return fns.error();
          return to_table(code->layout, *fns, set);
        }
    return Error{"JIT: kernel no longer cached"};
  };
}

Jit::Jit(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Jit::~Jit() = default;

Expected<std::unique_ptr<Jit>> Jit::create(JitOptions options) {
  auto orc = OrcJit::create();
  if (!orc) return from_llvm(orc.takeError(), "setting up the host target");
  auto impl = std::make_unique<Impl>();
  impl->orc = std::move(*orc);
  impl->disk = DiskCache(options.cache_dir);
  return std::unique_ptr<Jit>(new Jit(std::move(impl)));
}

Status Jit::compile(const passes::PreparedKernel& kernel) {
  auto code = impl_->get(kernel);
  if (!code) return code.error();
  return Status::success();
}

Status Jit::run_into(const passes::PreparedKernel& kernel, const kir::TensorView& input, const kir::ParamValues& params,
                     int threads, kir::KernelOutput& out) {
  auto code = impl_->get(kernel);
  if (!code) return code.error();
  return execute(**code, kernel.kernel, input, params, impl_->pool, impl_->buffers, threads, out);
}

Expected<kir::KernelOutput> Jit::run(const passes::PreparedKernel& kernel, const kir::TensorView& input,
                                     const kir::ParamValues& params, int threads) {
  kir::KernelOutput out;
  if (auto status = run_into(kernel, input, params, threads, out); !status) return status.error();
  return out;
}

JitStats Jit::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

std::string Jit::host() const { return impl_->orc->host().cpu + " " + impl_->orc->host().features; }

Expected<std::string> emit_llvm_ir(const passes::PreparedKernel& kernel, bool optimize_it) {
  Host host = detect_host();
  auto machine = make_target_machine(host);
  if (!machine) return from_llvm(machine.takeError(), "setting up the host target");
  Layout layout = make_layout(kernel);
  std::string text;
  llvm::raw_string_ostream os(text);
  for (SweepSet set : {SweepSet::Main, SweepSet::NativeFallbacks}) {
    if (set == SweepSet::NativeFallbacks) {
      if (!has_native_fallbacks(layout)) break;
      os << "; the native scans' fallbacks: compiled when a run needs them\n";
    }
    llvm::LLVMContext context;
    auto module = emit_module(layout, context, fmt::format("kmr_{:016x}", layout.hash), set);
    if (auto error = verify(*module)) return from_llvm(std::move(error), "kernel '" + kernel.kernel.name + "'");
    if (optimize_it) optimize(*module, **machine);
    module->print(os, nullptr);
  }
  return os.str();
}

}  // namespace kmr::codegen
