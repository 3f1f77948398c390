// Emits each sweep as a loop over a row's columns in chunks that no group boundary
// crosses: coarse values are loaded once per row or chunk, the inner loop is branch-free.
#include "compiler/codegen/emit_llvm.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <fmt/format.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

namespace kmr::codegen {
namespace {

using kir::Level;
using kir::NodeKind;
using llvm::Value;

// How an accumulator combines a unit into its running value.
enum class Combine { FAdd, IAdd, SMax, SMin, UMax, Or };

struct Acc {
  int id = -1;              // the reduction (or -1 for a flag)
  int flag = -1;            // SweepFlag for flags
  bool group = false;       // per group (chunk-local, merged into gs) or per row
  Combine combine = Combine::FAdd;
  bool f32_terms = false;   // a sum only measures read: its terms may be added in f32 first
  llvm::Type* type = nullptr;
  Value* identity = nullptr;
  llvm::PHINode* chunk_phi = nullptr;  // row accumulators: carried across chunks
  llvm::PHINode* inner_phi = nullptr;
  Value* current = nullptr;
};

class SweepEmitter {
 public:
  SweepEmitter(const Layout& layout, const SweepPlan& plan, llvm::Module& module, SweepVariant variant)
      : ctx_(module.getContext()), module_(module), b_(ctx_), L_(layout), plan_(plan),
        diag_(variant == SweepVariant::Diagnose), gather_(variant == SweepVariant::Gather) {}

  void emit(const std::string& name);

 private:
  // Columns per chunk of a sweep that prefetches the next row (see emit).
  static constexpr int64_t kPrefetchBlock = 512;
  llvm::BasicBlock* prefetch_next_row(Value* c0, Value* end, llvm::BasicBlock* next);

  // Types and constants.
  llvm::Type* f32() { return b_.getFloatTy(); }
  llvm::Type* f64() { return b_.getDoubleTy(); }
  llvm::Type* i64() { return b_.getInt64Ty(); }
  llvm::Type* i32() { return b_.getInt32Ty(); }
  Value* f32c(double v) { return llvm::ConstantFP::get(f32(), static_cast<float>(v)); }
  Value* f64c(double v) { return llvm::ConstantFP::get(f64(), v); }
  Value* i64c(int64_t v) { return b_.getInt64(static_cast<uint64_t>(v)); }

  // Loads placed at the end of `block` (before its terminator): hoisted out of the loops.
  Value* load_at(llvm::BasicBlock* block, llvm::Type* type, Value* base, Value* index) {
    llvm::IRBuilder<> at(block->getTerminator());
    return at.CreateLoad(type, at.CreateInBoundsGEP(type, base, index));
  }
  // Hoisted values by (what, index): each is computed once, in the entry block.
  enum Hoisted { kIx, kCoarse, kPosition, kF32, kUniformF32, kRowBase, kRankColumn };
  Value* ix(int index) { return hoist(kIx, index, [&] { return load_at(entry_, i64(), ix_, i64c(index)); }); }
  template <class F>
  Value* hoist(Hoisted what, int index, F make) {
    auto key = std::make_pair(static_cast<int>(what), index);
    auto it = hoisted_.find(key);
    if (it != hoisted_.end()) return it->second;
    return hoisted_[key] = make();
  }

  // Coarse values: constants inline, uniform and row values loaded in the entry block,
  // group values at the start of each chunk.
  Value* coarse(int id, bool position);
  Value* coarse_f32(int id);
  Value* uniform_f32(int slot) {
    return hoist(kUniformF32, slot, [&] {
      Value* value = load_at(entry_, f64(), us_, i64c(slot));
      return llvm::IRBuilder<>(entry_->getTerminator()).CreateFPTrunc(value, f32());
    });
  }
  Value* num32(int id) { return L_.nodes[id].node->is_element() ? element(id) : coarse_f32(id); }
  Value* boolean(int id) {
    if (L_.nodes[id].node->is_element()) return element(id);
    return b_.CreateFCmpUNE(coarse(id, false), f64c(0));
  }
  // A reduction's operand: element values as f32 (i1 for bools), coarse ones as f64.
  Value* operand_value(int id) {
    const auto& node = *L_.nodes[id].node;
    if (node.is_element()) return element(id);
    return node.type == kir::ScalarType::Bool ? boolean(id) : coarse(id, false);
  }

  // Element values, memoised per element.
  Value* element(int id);
#define KIR_NODE(kind, text) Value* emit_##kind(int id);
#include "compiler/kir/nodes.def"
#undef KIR_NODE
  Value* unary(kir::UnaryOp op, Value* x, int id);
  // The column of quantile q's selected unit in this row, clamped to [-1, cols] (hoisted).
  Value* rank_column(int q);
  // Splits the chunk [c0, end) so that it lies wholly before, at or after the selected
  // unit's column of every row or tensor quantile this sweep rank-compares with, and
  // records which (RankChunk); returns the new end.
  Value* split_at_rank_columns(Value* c0, Value* end);
  Value* binary(kir::BinaryOp op, Value* a, Value* b);
  Value* intrinsic(llvm::Intrinsic::ID id, Value* x) { return b_.CreateUnaryIntrinsic(id, x); }
  Value* not_finite(Value* x) {
    auto* inf = llvm::ConstantFP::getInfinity(x->getType());
    return b_.CreateFCmpUGE(intrinsic(llvm::Intrinsic::fabs, x), inf);
  }
  // A failure of the element being computed: a flag in normal sweeps, the end of the row
  // (described in `record`) in diagnostic ones.
  void fail_if(Value* cond, DiagKind kind, Value* value, int id);
  // The same for a non-finite f32 `x` (a weight or an output). The flag is the unsigned
  // max of the magnitudes' bits, tested once per row (infinities and NaNs have the largest):
  // one instruction per vector of elements, where or-ing compares took four.
  void fail_if_not_finite(Value* x, int flag, int id);

  // Accumulators.
  Acc& add_acc(Acc acc);
  void accumulate(Acc& acc, Value* unit);
  Value* combine(const Acc& acc, Value* a, Value* b);
  void reduce(int id);
  void write_output();
  Value* group_slot_ptr(int slot, int size_class);

  llvm::LLVMContext& ctx_;
  llvm::Module& module_;
  llvm::IRBuilder<> b_;
  const Layout& L_;
  const SweepPlan& plan_;
  bool diag_;
  bool gather_;
  llvm::Function* fn_ = nullptr;
  llvm::BasicBlock* entry_ = nullptr;
  llvm::BasicBlock* chunk_body_ = nullptr;
  Value *in_ = nullptr, *out_ = nullptr, *rs_ = nullptr, *gs_ = nullptr, *us_ = nullptr, *ix_ = nullptr;
  Value *scratch_ = nullptr, *row_ = nullptr, *record_ = nullptr;
  Value *cols_ = nullptr, *row_base_ = nullptr, *c_ = nullptr;
  Value* weight_index_ = nullptr;  // where the weight of column c_ is: c_, or a gather list's index
  std::vector<Value*> group_index_;  // per size class, in the current chunk
  std::map<std::pair<int, int>, Value*> hoisted_, chunk_;
  std::unordered_map<int, Value*> element_;
  std::vector<Acc> accs_;
  Acc* flags_[kFlagCount] = {nullptr, nullptr, nullptr};
  // Per quantile: whether the current chunk lies after its selected unit's column, and
  // whether it is that column (chunk-invariant, so a rank comparison is two compares).
  struct RankChunk {
    Value* after;
    Value* at;
    Value* above_threshold;         // f32 x is above the unit iff x > it (x never -inf; null
    Value* at_or_above_threshold;   // ... at or above it iff x > this   when no such x is compared)
  };
  // The largest f32 below x (x itself for -inf and NaN): x >= v is x > predecessor(v)
  // for every x but -inf.
  Value* predecessor(Value* x);
  std::unordered_map<int, RankChunk> rank_chunk_;
};

Value* SweepEmitter::group_slot_ptr(int slot, int size_class) {
  Value* offset = ix(L_.ix.offset_base + slot);
  return b_.CreateInBoundsGEP(f64(), gs_, b_.CreateAdd(offset, group_index_[size_class]));
}

Value* SweepEmitter::coarse(int id, bool position) {
  const NodeInfo& info = L_.nodes[id];
  const kir::Node& node = *info.node;
  if (node.kind == NodeKind::Const && !position) return f64c(node.value);
  int slot = position ? info.pos_slot : info.slot;
  llvm::Type* type = position ? i64() : f64();
  Hoisted what = position ? kPosition : kCoarse;
  switch (node.level.kind) {
    case Level::Kind::Uniform: return hoist(what, id, [&] { return load_at(entry_, type, us_, i64c(slot)); });
    case Level::Kind::Row: return hoist(what, id, [&] { return load_at(entry_, type, rs_, i64c(slot)); });
    case Level::Kind::Group: {
      auto key = std::make_pair(static_cast<int>(what), id);
      auto it = chunk_.find(key);
      if (it != chunk_.end()) return it->second;
      llvm::IRBuilder<> at(chunk_body_->getTerminator());
      Value* offset = ix(L_.ix.offset_base + slot);
      Value* index = at.CreateAdd(offset, group_index_[info.size_class]);
      return chunk_[key] = at.CreateLoad(type, at.CreateInBoundsGEP(type, gs_, index));
    }
    case Level::Kind::Element: break;
  }
  return f64c(0);  // unreachable: element values are not coarse
}

Value* SweepEmitter::coarse_f32(int id) {
  const kir::Node& node = *L_.nodes[id].node;
  if (node.kind == NodeKind::Const) return f32c(node.value);
  Value* value = coarse(id, false);
  // Converted where the value was loaded, so the conversion is hoisted with it.
  auto* inst = llvm::cast<llvm::Instruction>(value);
  auto key = std::make_pair(static_cast<int>(kF32), id);
  auto& cache = node.level.kind == Level::Kind::Group ? chunk_ : hoisted_;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  llvm::IRBuilder<> at(inst->getNextNode());
  return cache[key] = at.CreateFPTrunc(value, f32());
}

Value* SweepEmitter::element(int id) {
  auto it = element_.find(id);
  if (it != element_.end()) return it->second;
  Value* value = nullptr;
  switch (L_.nodes[id].node->kind) {
#define KIR_NODE(kind, text) \
  case NodeKind::kind: value = emit_##kind(id); break;
#include "compiler/kir/nodes.def"
#undef KIR_NODE
  }
  return element_[id] = value;
}

// Coarse kinds never vary per element: as operands of element nodes they are read as f32.
Value* SweepEmitter::emit_Const(int id) { return coarse_f32(id); }
Value* SweepEmitter::emit_Param(int id) { return coarse_f32(id); }
Value* SweepEmitter::emit_Reduce(int id) { return coarse_f32(id); }
Value* SweepEmitter::emit_Quantile(int id) { return coarse_f32(id); }

Value* SweepEmitter::emit_Input(int) {
  return b_.CreateLoad(f32(), b_.CreateInBoundsGEP(f32(), in_, weight_index_));
}

Value* SweepEmitter::emit_Unary(int id) {
  const auto& info = L_.nodes[id];
  auto op = static_cast<kir::UnaryOp>(info.node->op);
  Value* x = op == kir::UnaryOp::Not ? boolean(info.operands[0]) : num32(info.operands[0]);
  return unary(op, x, id);
}

Value* SweepEmitter::unary(kir::UnaryOp op, Value* x, int id) {
  switch (op) {
    case kir::UnaryOp::Neg: return b_.CreateFNeg(x);
    case kir::UnaryOp::Abs: return intrinsic(llvm::Intrinsic::fabs, x);
    case kir::UnaryOp::Sqrt:
      fail_if(b_.CreateFCmpOLT(x, f32c(0)), DiagKind::Domain, x, id);
      return intrinsic(llvm::Intrinsic::sqrt, x);
    case kir::UnaryOp::Exp: return intrinsic(llvm::Intrinsic::exp, x);
    case kir::UnaryOp::Log:
      fail_if(b_.CreateFCmpOLT(x, f32c(0)), DiagKind::Domain, x, id);
      return intrinsic(llvm::Intrinsic::log, x);
    case kir::UnaryOp::Sign:
      return b_.CreateSelect(b_.CreateFCmpOGT(x, f32c(0)), f32c(1),
                             b_.CreateSelect(b_.CreateFCmpOLT(x, f32c(0)), f32c(-1), f32c(0)));
    case kir::UnaryOp::Round: return intrinsic(llvm::Intrinsic::roundeven, x);
    case kir::UnaryOp::Floor: return intrinsic(llvm::Intrinsic::floor, x);
    case kir::UnaryOp::Ceil: return intrinsic(llvm::Intrinsic::ceil, x);
    case kir::UnaryOp::Not: return b_.CreateNot(x);
  }
  return x;
}

Value* SweepEmitter::emit_Binary(int id) {
  const auto& info = L_.nodes[id];
  auto op = static_cast<kir::BinaryOp>(info.node->op);
  if (kir::is_logic(op)) return binary(op, boolean(info.operands[0]), boolean(info.operands[1]));
  return binary(op, num32(info.operands[0]), num32(info.operands[1]));
}

Value* SweepEmitter::binary(kir::BinaryOp op, Value* a, Value* b) {
  switch (op) {
    case kir::BinaryOp::Add: return b_.CreateFAdd(a, b);
    case kir::BinaryOp::Sub: return b_.CreateFSub(a, b);
    case kir::BinaryOp::Mul: return b_.CreateFMul(a, b);
    case kir::BinaryOp::Div:  // total: x / 0 = 0
      return b_.CreateSelect(b_.CreateFCmpOEQ(b, f32c(0)), f32c(0), b_.CreateFDiv(a, b));
    case kir::BinaryOp::Pow: {
      // powf itself, as the interpreter calls it: `nobuiltin` keeps LLVM from rewriting
      // pow(2, x) as exp2(x) and the like, which can differ in the last bit.
      auto callee = module_.getOrInsertFunction("powf", llvm::FunctionType::get(f32(), {f32(), f32()}, false));
      auto* call = b_.CreateCall(callee, {a, b});
      call->addFnAttr(llvm::Attribute::NoBuiltin);
      return call;
    }
    case kir::BinaryOp::Min: return b_.CreateSelect(b_.CreateFCmpOLT(a, b), a, b);
    case kir::BinaryOp::Max: return b_.CreateSelect(b_.CreateFCmpOGT(a, b), a, b);
    case kir::BinaryOp::Lt: return b_.CreateFCmpOLT(a, b);
    case kir::BinaryOp::Le: return b_.CreateFCmpOLE(a, b);
    case kir::BinaryOp::Gt: return b_.CreateFCmpOGT(a, b);
    case kir::BinaryOp::Ge: return b_.CreateFCmpOGE(a, b);
    case kir::BinaryOp::Eq: return b_.CreateFCmpOEQ(a, b);
    case kir::BinaryOp::Ne: return b_.CreateFCmpUNE(a, b);
    case kir::BinaryOp::And: return b_.CreateAnd(a, b);
    case kir::BinaryOp::Or: return b_.CreateOr(a, b);
  }
  return a;
}

Value* SweepEmitter::emit_Select(int id) {
  const auto& info = L_.nodes[id];
  Value* cond = boolean(info.operands[0]);
  if (info.node->type == kir::ScalarType::Bool)
    return b_.CreateSelect(cond, boolean(info.operands[1]), boolean(info.operands[2]));
  return b_.CreateSelect(cond, num32(info.operands[1]), num32(info.operands[2]));
}

Value* SweepEmitter::rank_column(int q) {
  // Positions compare as columns of this row, in 32 bits (the executor refuses longer
  // rows): the selected unit's position is moved into the row's frame and clamped to
  // [-1, cols], which keeps every comparison with a column c in [0, cols). A vector of
  // 64-bit positions per element costs the loop more than all its arithmetic.
  const kir::Node& quantile = *L_.nodes[q].node;
  if (quantile.level.kind == Level::Kind::Group) {  // loaded per chunk: not hoisted
    Value* kcol = coarse(q, true);
    kcol = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, kcol, i64c(-1));
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, kcol, cols_);
  }
  return hoist(kRankColumn, q, [&] {
    Value* kcol = coarse(q, true);
    llvm::IRBuilder<> at(entry_->getTerminator());
    if (quantile.grouping.kind == kir::Grouping::Kind::All) kcol = at.CreateSub(kcol, row_base_);
    kcol = at.CreateBinaryIntrinsic(llvm::Intrinsic::smax, kcol, i64c(-1));
    return at.CreateBinaryIntrinsic(llvm::Intrinsic::smin, kcol, cols_);
  });
}

Value* SweepEmitter::split_at_rank_columns(Value* c0, Value* end) {
  for (size_t id = 0; id < L_.nodes.size(); ++id) {
    const NodeInfo& info = L_.nodes[id];
    if (info.node->kind != NodeKind::RankCmp || !info.node->is_element()) continue;
    int q = info.operands[1];
    bool read_here = std::find(plan_.reads.begin(), plan_.reads.end(), q) != plan_.reads.end();
    if (!read_here || L_.nodes[q].node->level.kind == Level::Kind::Group || rank_chunk_.count(q)) continue;
    Value* kcol = rank_column(q);
    Value* straddles = b_.CreateAnd(b_.CreateICmpSLT(c0, kcol), b_.CreateICmpSLT(kcol, end));
    end = b_.CreateSelect(straddles, kcol, end);
    Value* at = b_.CreateICmpEQ(c0, kcol);
    end = b_.CreateSelect(at, b_.CreateAdd(c0, i64c(1)), end);  // end > c0: the chunk is [kcol, kcol + 1)
    RankChunk chunk{b_.CreateICmpSGT(c0, kcol), at, nullptr, nullptr};
    bool magnitude_compared = std::any_of(L_.nodes.begin(), L_.nodes.end(), [&](const NodeInfo& other) {
      return other.node->kind == NodeKind::RankCmp && other.operands[1] == q && other.operand_never_minus_inf;
    });
    if (magnitude_compared) {
      // Thresholds for an operand that is never -inf (a magnitude): (x, c) above (Q, kcol)
      // is x > Q before the unit's column and x >= Q (x > Q's predecessor) after it; at or
      // above adds the unit's own column.
      Value* kvalue = b_.CreateFPTrunc(coarse(q, false), f32());
      Value* below = predecessor(kvalue);
      chunk.above_threshold = b_.CreateSelect(chunk.after, below, kvalue);
      chunk.at_or_above_threshold = b_.CreateSelect(b_.CreateOr(chunk.after, at), below, kvalue);
    }
    rank_chunk_[q] = chunk;
  }
  return end;
}

Value* SweepEmitter::predecessor(Value* x) {
  // On the bits: positive numbers step down by one, negative ones up by one (away from
  // zero), zeros go to the negative smallest subnormal.
  Value* bits = b_.CreateBitCast(x, i32());
  Value* step = b_.CreateSelect(b_.CreateFCmpOGT(x, f32c(0)), b_.CreateSub(bits, b_.getInt32(1)), b_.CreateAdd(bits, b_.getInt32(1)));
  step = b_.CreateSelect(b_.CreateFCmpOEQ(x, f32c(0)), b_.getInt32(static_cast<int32_t>(0x80000001u)), step);
  Value* below = b_.CreateBitCast(step, f32());
  Value* unchanged = b_.CreateFCmpUEQ(x, llvm::ConstantFP::getInfinity(f32(), true));  // -inf or NaN
  return b_.CreateSelect(unchanged, x, below);
}

// Rank comparison with a quantile: (value, position) against the selected unit's. In a
// chunk split at the unit's column the position comparison is chunk-invariant.
Value* SweepEmitter::emit_RankCmp(int id) {
  const auto& info = L_.nodes[id];
  int x_id = info.operands[0], q_id = info.operands[1];
  Value* x = operand_value(x_id);
  Value* kvalue = coarse(q_id, false);
  if (x->getType()->isFloatTy()) kvalue = b_.CreateFPTrunc(kvalue, f32());  // exact: one of x's values
  auto op = static_cast<kir::BinaryOp>(info.node->op);
  auto chunk = rank_chunk_.find(q_id);
  if (chunk != rank_chunk_.end() && info.operand_never_minus_inf && x->getType()->isFloatTy() &&
      op != kir::BinaryOp::Eq && op != kir::BinaryOp::Ne) {
    // One compare per element where the general form takes two and an or.
    bool with_at = op == kir::BinaryOp::Ge || op == kir::BinaryOp::Lt;
    Value* holds = b_.CreateFCmpOGT(x, with_at ? chunk->second.at_or_above_threshold : chunk->second.above_threshold);
    return op == kir::BinaryOp::Gt || op == kir::BinaryOp::Ge ? holds : b_.CreateNot(holds);
  }
  Value* equal = b_.CreateFCmpOEQ(x, kvalue);
  Value *after = nullptr, *at_column = nullptr;
  if (chunk != rank_chunk_.end()) {
    after = chunk->second.after;
    at_column = chunk->second.at;
  } else {
    Value* kpos = b_.CreateTrunc(rank_column(q_id), i32());
    Value* pos = b_.CreateTrunc(c_, i32());
    after = b_.CreateICmpSGT(pos, kpos);
    at_column = b_.CreateICmpEQ(pos, kpos);
  }
  Value* above = b_.CreateOr(b_.CreateFCmpOGT(x, kvalue), b_.CreateAnd(equal, after));
  Value* at = b_.CreateAnd(equal, at_column);
  switch (op) {
    case kir::BinaryOp::Lt: return b_.CreateNot(b_.CreateOr(above, at));
    case kir::BinaryOp::Le: return b_.CreateNot(above);
    case kir::BinaryOp::Gt: return above;
    case kir::BinaryOp::Ge: return b_.CreateOr(above, at);
    case kir::BinaryOp::Eq: return at;
    case kir::BinaryOp::Ne: return b_.CreateNot(at);
    default: return b_.getFalse();
  }
}

void SweepEmitter::fail_if(Value* cond, DiagKind kind, Value* value, int id) {
  if (!diag_) {
    Acc* flag = flags_[kind == DiagKind::Domain ? kFlagDomain : kFlagOutput];
    if (flag) accumulate(*flag, b_.CreateZExt(cond, i32()));
    return;
  }
  auto* fail = llvm::BasicBlock::Create(ctx_, "fail", fn_);
  auto* cont = llvm::BasicBlock::Create(ctx_, "cont", fn_);
  b_.CreateCondBr(cond, fail, cont);
  b_.SetInsertPoint(fail);
  Value* fields[kDiagRecordSize] = {f64c(1), b_.CreateSIToFP(c_, f64()), f64c(static_cast<int>(kind)),
                                    b_.CreateFPExt(value, f64()), f64c(id)};
  for (int i = 0; i < kDiagRecordSize; ++i) b_.CreateStore(fields[i], b_.CreateInBoundsGEP(f64(), record_, i64c(i)));
  b_.CreateRetVoid();
  b_.SetInsertPoint(cont);
}

void SweepEmitter::fail_if_not_finite(Value* x, int flag, int id) {
  if (diag_) return fail_if(not_finite(x), DiagKind::Output, x, id);
  accumulate(*flags_[flag], b_.CreateAnd(b_.CreateBitCast(x, i32()), b_.getInt32(0x7fffffff)));
}

Acc& SweepEmitter::add_acc(Acc acc) {
  accs_.push_back(acc);
  return accs_.back();
}

Value* SweepEmitter::combine(const Acc& acc, Value* a, Value* b) {
  switch (acc.combine) {
    case Combine::FAdd: {
      // Sums may be reassociated (docs/kernels.md), which lets the vectorizer split them.
      llvm::FastMathFlags fmf;
      fmf.setAllowReassoc();
      auto* sum = b_.CreateFAdd(a, b);
      llvm::cast<llvm::Instruction>(sum)->setFastMathFlags(fmf);
      if (acc.f32_terms)
        llvm::cast<llvm::Instruction>(sum)->setMetadata(llvm::LLVMContext::MD_fpmath,
                                                        llvm::MDBuilder(ctx_).createFPMath(kF32TermsUlps));
      return sum;
    }
    case Combine::IAdd: return b_.CreateAdd(a, b);
    case Combine::SMax: return b_.CreateSelect(b_.CreateICmpSGT(b, a), b, a);
    case Combine::SMin: return b_.CreateSelect(b_.CreateICmpSLT(b, a), b, a);
    case Combine::UMax: return b_.CreateSelect(b_.CreateICmpUGT(b, a), b, a);
    case Combine::Or: return b_.CreateOr(a, b);
  }
  return a;
}

void SweepEmitter::accumulate(Acc& acc, Value* unit) { acc.current = combine(acc, acc.current, unit); }

// One unit of an element-domain reduction: sums in f64, max/min on order-preserving
// integer keys (so they vectorize), counts of non-zeros, quantile operands to scratch.
void SweepEmitter::reduce(int id) {
  const NodeInfo& info = L_.nodes[id];
  Value* x = operand_value(info.operands[0]);
  if (diag_) return;  // the operand was evaluated for its checks; nothing is written
  if (info.node->kind == NodeKind::Quantile) {
    Value* base = b_.CreateInBoundsGEP(b_.getInt8Ty(), scratch_, ix(L_.ix.scratch_base + info.scratch));
    b_.CreateStore(x, b_.CreateInBoundsGEP(x->getType(), base, c_));
    return;
  }
  Acc* acc = nullptr;
  for (auto& a : accs_)
    if (a.id == id) acc = &a;
  auto op = static_cast<kir::ReduceOp>(info.node->op);
  Value* unit = nullptr;
  switch (op) {
    case kir::ReduceOp::Sum:
    case kir::ReduceOp::Mean: unit = x->getType()->isFloatTy() ? b_.CreateFPExt(x, f64()) : x; break;
    case kir::ReduceOp::Max:
    case kir::ReduceOp::Min: {
      llvm::Type* int_type = x->getType()->isFloatTy() ? i32() : i64();
      Value* bits = b_.CreateBitCast(x, int_type);
      // An abs() has its sign bit clear, so its key is its bits (LLVM does not see that the
      // transform below is then the identity: two instructions per vector in max(abs(w))).
      if (L_.nodes[info.operands[0]].node->is(kir::UnaryOp::Abs)) {
        unit = bits;
        break;
      }
      unsigned width = int_type->getIntegerBitWidth();
      Value* mask = b_.CreateAnd(b_.CreateAShr(bits, width - 1), llvm::ConstantInt::get(int_type, ~(uint64_t(1) << (width - 1))));
      unit = b_.CreateXor(bits, mask);
      break;
    }
    case kir::ReduceOp::Count: {
      Value* nonzero = x->getType()->isIntegerTy(1) ? x : b_.CreateFCmpUNE(x, llvm::ConstantFP::get(x->getType(), 0.0));
      unit = b_.CreateZExt(nonzero, i64());
      break;
    }
  }
  accumulate(*acc, unit);
}

void SweepEmitter::write_output() {
  if (L_.result == kir::ResultKind::Tensor) {
    Value* v = num32(L_.value);
    fail_if_not_finite(v, kFlagOutput, L_.value);
    if (!diag_) b_.CreateStore(v, b_.CreateInBoundsGEP(f32(), out_, c_));
    return;
  }
  Value* q = num32(L_.q);
  // A q proven a finite whole number (the kernel clamps a rounded value between whole
  // bounds) skips the check, the rounding and the NaN guard: a third of int8's loop.
  if (!L_.q_finite_whole) fail_if_not_finite(q, kFlagOutput, L_.q);
  if (diag_) return;
  // to_code (semantics.h): round half to even, saturate, NaN to 0 (never a poison fptosi).
  Value* code = L_.q_finite_whole ? q : intrinsic(llvm::Intrinsic::roundeven, q);
  if (!L_.q_within_codes) {
    Value* hi_bound = uniform_f32(L_.code_hi_slot);
    Value* lo_bound = uniform_f32(L_.code_lo_slot);
    code = b_.CreateSelect(b_.CreateFCmpOGT(code, hi_bound), hi_bound, code);
    code = b_.CreateSelect(b_.CreateFCmpOLT(code, lo_bound), lo_bound, code);
  }
  if (!L_.q_finite_whole) code = b_.CreateSelect(b_.CreateFCmpORD(code, code), code, f32c(0));
  Value* byte = b_.CreateTrunc(b_.CreateFPToSI(code, i32()), b_.getInt8Ty());
  b_.CreateStore(byte, b_.CreateInBoundsGEP(b_.getInt8Ty(), out_, c_));
}

// Prefetches (for reading, into L2) the cache lines of the next row's columns [c0, end),
// then branches to `next`; returns the block that does.
llvm::BasicBlock* SweepEmitter::prefetch_next_row(Value* c0, Value* end, llvm::BasicBlock* next) {
  constexpr int64_t kFloatsPerLine = 16;
  auto* from = b_.GetInsertBlock();
  auto* fetch = llvm::BasicBlock::Create(ctx_, "prefetch", fn_);
  b_.CreateBr(fetch);
  b_.SetInsertPoint(fetch);
  auto* c = b_.CreatePHI(i64(), 2);
  c->addIncoming(c0, from);
  // Past the last row this points beyond the tensor: prefetches never fault.
  Value* ahead = b_.CreateGEP(f32(), in_, b_.CreateAdd(c, cols_));
  b_.CreateIntrinsic(llvm::Intrinsic::prefetch, {ahead->getType()},
                     {ahead, b_.getInt32(0), b_.getInt32(2), b_.getInt32(1)});
  Value* next_line = b_.CreateAdd(c, i64c(kFloatsPerLine));
  c->addIncoming(next_line, fetch);
  b_.CreateCondBr(b_.CreateICmpSLT(next_line, end), fetch, next);
  return fetch;
}

void SweepEmitter::emit(const std::string& name) {
  auto* ptr = llvm::PointerType::getUnqual(ctx_);
  std::vector<llvm::Type*> params{ptr, ptr, ptr, ptr, ptr, ptr, ptr, i64(), ptr};
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), params, false);
  fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
  fn_->addFnAttr(llvm::Attribute::NoUnwind);
  for (unsigned i : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 8u}) {
    fn_->addParamAttr(i, llvm::Attribute::NoAlias);
    fn_->addParamAttr(i, llvm::Attribute::NoCapture);
  }
  for (unsigned i : {0u, 4u, 5u}) fn_->addParamAttr(i, llvm::Attribute::ReadOnly);
  auto arg = fn_->arg_begin();
  in_ = &*arg++, out_ = &*arg++, rs_ = &*arg++, gs_ = &*arg++, us_ = &*arg++, ix_ = &*arg++;
  scratch_ = &*arg++, row_ = &*arg++, record_ = &*arg++;

  entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn_);
  auto* chunk_head = llvm::BasicBlock::Create(ctx_, "chunk", fn_);
  chunk_body_ = llvm::BasicBlock::Create(ctx_, "chunk.body", fn_);
  auto* inner = llvm::BasicBlock::Create(ctx_, "inner", fn_);
  auto* inner_exit = llvm::BasicBlock::Create(ctx_, "inner.exit", fn_);
  auto* exit = llvm::BasicBlock::Create(ctx_, "exit", fn_);
  b_.SetInsertPoint(entry_);
  b_.CreateBr(chunk_head);
  cols_ = ix(0);
  row_base_ = hoist(kRowBase, 0, [&] { return llvm::IRBuilder<>(entry_->getTerminator()).CreateMul(row_, cols_); });
  // The loop runs over columns [0, cols), or over the gather list's indices [0, n).
  Value* limit = gather_ ? load_at(entry_, i64(), record_, i64c(0)) : cols_;

  // Accumulators: one per element-domain reduction (not quantiles: they fill scratch),
  // then the flags.
  if (!diag_) {
    for (int id : plan_.reductions) {
      const NodeInfo& info = L_.nodes[id];
      if (info.node->kind == NodeKind::Quantile) continue;
      Acc acc;
      acc.id = id;
      acc.group = info.node->level.kind == Level::Kind::Group;
      bool f32_operand = L_.nodes[info.operands[0]].node->is_element();
      switch (static_cast<kir::ReduceOp>(info.node->op)) {
        case kir::ReduceOp::Sum:
        case kir::ReduceOp::Mean:
          acc.combine = Combine::FAdd, acc.type = f64(), acc.identity = f64c(0);
          acc.f32_terms = f32_operand && info.only_measured;
          break;
        case kir::ReduceOp::Count: acc.combine = Combine::IAdd, acc.type = i64(), acc.identity = i64c(0); break;
        case kir::ReduceOp::Max:
        case kir::ReduceOp::Min: {
          bool max = static_cast<kir::ReduceOp>(info.node->op) == kir::ReduceOp::Max;
          acc.combine = max ? Combine::SMax : Combine::SMin;
          acc.type = f32_operand ? i32() : i64();
          uint64_t lowest = f32_operand ? uint64_t(INT32_MIN) : uint64_t(INT64_MIN);
          uint64_t highest = f32_operand ? uint64_t(INT32_MAX) : uint64_t(INT64_MAX);
          acc.identity = llvm::ConstantInt::get(acc.type, max ? lowest : highest);
          break;
        }
      }
      add_acc(acc);
    }
    for (int flag = 0; flag < kFlagCount; ++flag) {
      Acc acc;
      acc.flag = flag;
      acc.combine = flag == kFlagDomain ? Combine::Or : Combine::UMax;  // see fail_if_not_finite
      acc.type = i32();
      acc.identity = b_.getInt32(0);
      add_acc(acc);
    }
    for (auto& acc : accs_)
      if (acc.flag >= 0) flags_[acc.flag] = &acc;
  }

  // Chunk loop: [c0, end) where end is the next boundary of any group size used here.
  b_.SetInsertPoint(chunk_head);
  auto* c0 = b_.CreatePHI(i64(), 2, "c0");
  c0->addIncoming(i64c(0), entry_);
  for (auto& acc : accs_)
    if (!acc.group) {
      acc.chunk_phi = b_.CreatePHI(acc.type, 2);
      acc.chunk_phi->addIncoming(acc.identity, entry_);
    }
  b_.CreateCondBr(b_.CreateICmpSLT(c0, limit), chunk_body_, exit);

  b_.SetInsertPoint(chunk_body_);
  group_index_.assign(L_.size_nodes.size(), i64c(0));
  Value* end = limit;
  for (int k : plan_.size_classes) {
    Value* size = ix(L_.ix.size_base + k);
    group_index_[k] = b_.CreateUDiv(c0, size);
    Value* boundary = b_.CreateMul(b_.CreateAdd(group_index_[k], i64c(1)), size);
    end = b_.CreateSelect(b_.CreateICmpSLT(boundary, end), boundary, end);
  }
  if (!gather_) end = split_at_rank_columns(c0, end);  // a gather list's indices are not columns
  if (plan_.output && L_.result == kir::ResultKind::Quantized && !diag_ && !gather_) {
    // Every chunk's codes start at a 16-byte aligned address (a chunk that does not is cut
    // there): the JIT streams the vectorised loop's codes out with aligned non-temporal
    // stores (jit.cpp, stream_code_stores).
    Value* address = b_.CreateAdd(b_.CreatePtrToInt(out_, i64()), c0);
    Value* to_aligned = b_.CreateAnd(b_.CreateSub(i64c(0), address), i64c(15));
    Value* aligned = b_.CreateAdd(c0, to_aligned);
    Value* split = b_.CreateAnd(b_.CreateICmpUGT(to_aligned, i64c(0)), b_.CreateICmpSLT(aligned, end));
    end = b_.CreateSelect(split, aligned, end);
  }
  // A sweep whose row is cached (SweepPlan::prefetch_next_row: a later sweep of a pass, or
  // the output sweep of a speculative pass, after the pre-pass's scan) is bound by
  // arithmetic while the memory bus idles: it prefetches the next row, a block of columns
  // at a time, so that the next row's first sweep or scan finds it cached.
  llvm::BasicBlock* into_inner = chunk_body_;
  if (plan_.prefetch_next_row && !diag_ && !gather_) {
    Value* block_end = b_.CreateAdd(c0, i64c(kPrefetchBlock));
    end = b_.CreateSelect(b_.CreateICmpSLT(block_end, end), block_end, end);
    into_inner = prefetch_next_row(c0, end, inner);
  } else {
    b_.CreateBr(inner);
  }

  // Inner loop over the chunk's columns: one element per iteration, no branches.
  b_.SetInsertPoint(inner);
  auto* c = b_.CreatePHI(i64(), 2, "c");
  c->addIncoming(c0, into_inner);
  for (auto& acc : accs_) {
    acc.inner_phi = b_.CreatePHI(acc.type, 2);
    acc.inner_phi->addIncoming(acc.group ? acc.identity : acc.chunk_phi, into_inner);
    acc.current = acc.inner_phi;
  }
  c_ = gather_ ? static_cast<Value*>(b_.CreateLoad(i64(), b_.CreateInBoundsGEP(i64(), record_, b_.CreateAdd(c, i64c(1))))) : c;
  weight_index_ = gather_ ? static_cast<Value*>(c) : c_;
  if (plan_.check_input && !diag_) {
    Value* w = b_.CreateLoad(f32(), b_.CreateInBoundsGEP(f32(), in_, weight_index_));
    fail_if_not_finite(w, kFlagInput, -1);
  }
  for (int id : plan_.reductions) reduce(id);
  if (plan_.output) write_output();
  Value* next = b_.CreateAdd(c, i64c(1), "", true, true);
  llvm::BasicBlock* latch = b_.GetInsertBlock();
  c->addIncoming(next, latch);
  for (auto& acc : accs_) acc.inner_phi->addIncoming(acc.current, latch);
  auto* latch_branch = b_.CreateCondBr(b_.CreateICmpSLT(next, end), inner, inner_exit);
  if (gather_) {
    // A gather list holds a few units of a row: a plain loop, not vectorised, interleaved
    // or unrolled, which would only add compile time (~40% of the fused kernel's).
    auto flag = [&](const char* name, llvm::Metadata* value) {
      return llvm::MDNode::get(ctx_, {llvm::MDString::get(ctx_, name), value});
    };
    auto* off = llvm::ConstantAsMetadata::get(b_.getFalse());
    llvm::Metadata* fields[] = {nullptr, flag("llvm.loop.vectorize.enable", off),
                                flag("llvm.loop.interleave.count", llvm::ConstantAsMetadata::get(b_.getInt32(1))),
                                llvm::MDNode::get(ctx_, {llvm::MDString::get(ctx_, "llvm.loop.unroll.disable")})};
    auto* loop = llvm::MDNode::getDistinct(ctx_, fields);
    loop->replaceOperandWith(0, loop);
    latch_branch->setMetadata(llvm::LLVMContext::MD_loop, loop);
  }

  // After the chunk: merge group accumulators into their slots; carry row accumulators.
  b_.SetInsertPoint(inner_exit);
  for (auto& acc : accs_) {
    if (!acc.group) {
      acc.chunk_phi->addIncoming(acc.current, inner_exit);
      continue;
    }
    const NodeInfo& info = L_.nodes[acc.id];
    Value* slot = group_slot_ptr(info.slot, info.size_class);
    llvm::Type* stored = acc.type == f64() ? f64() : i64();
    Value* old = b_.CreateLoad(stored, slot);
    Value* mine = acc.type == i32() ? b_.CreateSExt(acc.current, i64()) : acc.current;
    b_.CreateStore(combine(acc, old, mine), slot);
  }
  c0->addIncoming(end, inner_exit);
  b_.CreateBr(chunk_head);

  // After the row: row accumulators and per-row partials of reductions over all, flags.
  b_.SetInsertPoint(exit);
  for (auto& acc : accs_) {
    if (acc.group) continue;
    Value* value = acc.chunk_phi;
    int slot = -1;
    if (acc.flag >= 0) {
      slot = plan_.flag_slot + acc.flag;
      if (acc.combine == Combine::UMax) value = b_.CreateICmpUGE(value, b_.getInt32(0x7f800000));  // inf's bits
      value = b_.CreateUIToFP(value, f64());
    } else {
      const NodeInfo& info = L_.nodes[acc.id];
      slot = info.partial_slot >= 0 ? info.partial_slot : info.slot;
      if (acc.type == i32()) value = b_.CreateSExt(value, i64());
    }
    b_.CreateStore(value, b_.CreateInBoundsGEP(f64(), rs_, i64c(slot)));
  }
  b_.CreateRetVoid();
}

}  // namespace

std::string sweep_symbol(const std::string& prefix, int pass, int sweep, SweepVariant variant) {
  const char* mark = variant == SweepVariant::Diagnose ? "d" : variant == SweepVariant::Gather ? "g" : "";
  return fmt::format("{}_{}p{}s{}", prefix, mark, pass, sweep);
}

bool sweep_in_set(const SweepPlan& plan, SweepSet set) {
  switch (set) {
    case SweepSet::Main: return plan.native_quantile < 0;
    case SweepSet::NativeFallbacks: return plan.native_quantile >= 0;
    case SweepSet::Diagnostics: return sweep_can_fail(plan);
  }
  return false;
}

std::unique_ptr<llvm::Module> emit_module(const Layout& layout, llvm::LLVMContext& context, const std::string& prefix,
                                          SweepSet set) {
  auto module = std::make_unique<llvm::Module>(prefix, context);
  SweepVariant variant = set == SweepSet::Diagnostics ? SweepVariant::Diagnose : SweepVariant::Normal;
  for (const auto& pass : layout.sweeps)
    for (const auto& plan : pass)
      if (sweep_in_set(plan, set))
        SweepEmitter(layout, plan, *module, variant).emit(sweep_symbol(prefix, plan.pass, plan.sweep, variant));
  if (const SweepPlan* fixed = speculative_output(layout); fixed && set == SweepSet::Main)
    SweepEmitter(layout, *fixed, *module, SweepVariant::Gather)
        .emit(sweep_symbol(prefix, fixed->pass, fixed->sweep, SweepVariant::Gather));
  return module;
}

}  // namespace kmr::codegen
