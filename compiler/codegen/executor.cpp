// Drives a compiled kernel: for each pass, every row (in blocks over threads) runs its
// stages — coarse values in C++, then the generated sweep — and the pass's reductions
// over the whole tensor are finished in row order. Failures are found by cheap per-row
// flags and described, off the fast path, by the diagnostic sweeps.
#include "compiler/codegen/executor.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "compiler/codegen/run_state.h"
#include "compiler/kir/semantics.h"
#include "support/large_buffers.h"

namespace kmr::codegen {

using kir::Level;
using kir::NodeKind;

RunState::RunState(const CompiledKernel& code, const kir::Kernel& kernel, const kir::TensorView& input,
                   const kir::ParamValues& params, ThreadPool& pool, BufferCache& cache, int threads,
                   kir::KernelOutput& out)
    : code(code), L(code.layout), kernel(kernel), in(input), params(params), pool(pool), cache(cache),
      threads(std::max(1, threads)), rows(input.rows), cols(input.cols), out(out) {
  RunBuffers buffers = cache.take();
  workers = std::move(buffers.workers);
  spare_candidates = std::move(buffers.candidates);
}

RunState::~RunState() {
  for (auto& g : selects) recycle(g->found);
  cache.put({std::move(workers), std::move(spare_candidates)});
}

void RunState::fail(std::array<int64_t, 3> key, const std::string& what) {
  std::lock_guard<std::mutex> lock(failure_mutex);
  if (!failure || key < failure->first) failure = {key, kir::run_error(kernel, in, what).message};
}

std::optional<int64_t> RunState::first_bad_weight() const {
  for (int64_t i = 0; i < in.size(); ++i)
    if (!std::isfinite(in.data[i])) return i;
  return std::nullopt;
}

Status RunState::prepare() {
  if (auto status = kir::check_params(kernel, params, in); !status) return status;
  if (cols > std::numeric_limits<int32_t>::max())  // the generated code compares columns in 32 bits
    return kir::run_error(kernel, in, fmt::format("a row of {} units is too long for the JIT (at most 2^31 - 1; --no-jit "
                                                  "runs it)", cols));
  // 1. Group sizes, in the interpreter's order; bad weights are reported before them.
  size.assign(L.size_nodes.size(), 1);
  effective.assign(L.size_nodes.size(), 0);
  groups.assign(L.size_nodes.size(), 0);
  for (const auto& info : L.nodes)
    for (const Level* level : {&info.node->level, &info.node->domain}) {
      if (level->kind != Level::Kind::Group) continue;
      int id = L.id_of.at(level->size.get());
      int k = static_cast<int>(std::find(L.size_nodes.begin(), L.size_nodes.end(), id) - L.size_nodes.begin());
      if (k >= static_cast<int>(L.size_nodes.size())) continue;  // unreachable: every group level has a class
      auto g = kir::effective_group_size(kernel, *level->size, params, in);
      if (!g) {
        if (auto bad = first_bad_weight())
          return kir::run_error(kernel, in, fmt::format("weight [{}, {}] is {}", *bad / cols, *bad % cols, in.data[*bad]));
        return g.error();
      }
      effective[k] = *g;
      size[k] = std::max<int64_t>(*g, 1);
      groups[k] = cols == 0 || *g == 0 ? 0 : (cols + *g - 1) / *g;
    }
  // 2. The ix table, the slots and every worker's buffers.
  ix.assign(L.ix.count, 0);
  ix[0] = cols;
  for (size_t k = 0; k < size.size(); ++k) ix[L.ix.size_base + k] = size[k];
  int64_t offset = 0;
  gs_offset.resize(L.group_slots);
  for (int slot = 0; slot < L.group_slots; ++slot) {
    gs_offset[slot] = offset;
    ix[L.ix.offset_base + slot] = offset;
    offset += groups[L.group_slot_class[slot]];
  }
  int64_t scratch_bytes = 0;
  for (const auto& info : L.nodes)
    if (info.scratch >= 0) {
      ix[L.ix.scratch_base + info.scratch] = scratch_bytes;
      scratch_bytes += (cols * (info.scratch_f64 ? 8 : 4) + 63) / 64 * 64;
    }
  us.assign(L.uniform_slots, 0.0);
  rs.assign(static_cast<size_t>(rows) * L.row_slots, 0.0);
  kept.resize(L.group_slots);
  for (const auto& info : L.nodes)
    if (info.persistent)
      for (int slot : {info.slot, info.pos_slot})
        if (slot >= 0) kept[slot].assign(rows * groups[L.group_slot_class[slot]], 0.0);
  for (const auto& plans : L.sweeps)
    for (const auto& plan : plans)
      for (int id : plan.reductions)
        if (L.nodes[id].node->kind == NodeKind::Quantile && L.nodes[id].node->grouping.kind == kir::Grouping::Kind::All) {
          auto g = std::make_unique<GlobalSelect>();
          g->id = id, g->pass = plan.pass, g->sweep = plan.sweep, g->index = static_cast<int>(selects.size());
          selects.push_back(std::move(g));
        }
  workers.resize(threads);
  for (auto& worker : workers) {
    worker.gs.assign(offset, 0.0);
    worker.scratch.assign(scratch_bytes / 8 + 1, 0.0);
    worker.hist.assign(selects.size(), {});  // a histogram starts empty (histogram_row sizes it)
  }
  // 3. The output (resized, not cleared: the sweeps write every element).
  std::vector<float> values = std::move(out.values);
  std::vector<uint8_t> codes = std::move(out.codes);
  out = kir::KernelOutput{};
  out.values = std::move(values);
  out.codes = std::move(codes);
  out.kind = L.result;
  if (L.result == kir::ResultKind::Tensor) {
    resize_large(out.values, static_cast<size_t>(in.size()));
    out.codes.clear();
  } else {
    out.values.clear();
    resize_large(out.codes, static_cast<size_t>(in.size()));
    out.has_zero = L.zero >= 0;
    out.codes_signed = !out.has_zero;
    const NodeInfo& scale = L.nodes[L.scale];
    const Level& grid = scale.node->level;
    out.grid = grid.kind == Level::Kind::Uniform ? kir::ScaleGrid::Tensor
               : grid.kind == Level::Kind::Row   ? kir::ScaleGrid::Row
                                                 : kir::ScaleGrid::Group;
    int64_t units = grid.kind == Level::Kind::Uniform ? 1 : grid.kind == Level::Kind::Row ? rows : rows * groups[scale.size_class];
    if (out.grid == kir::ScaleGrid::Group) out.group_size = effective[scale.size_class];
    if (out.grid == kir::ScaleGrid::Group && out.group_size == cols && cols > 0) out.grid = kir::ScaleGrid::Row;
    out.scales.assign(units, 0.0f);
    if (out.has_zero) out.zeros.assign(units, 0.0f);
  }
  return Status::success();
}

int64_t RunState::row_tasks() const {
  if (rows == 0) return 0;
  return threads == 1 ? 1 : std::min<int64_t>(rows, int64_t{threads} * 32);
}

void RunState::for_rows(const std::function<void(int64_t, Worker&, int64_t)>& fn) {
  int64_t tasks = row_tasks();
  pool.run(tasks, threads, [&](int64_t task, int worker) {
    int64_t first = rows * task / tasks, last = rows * (task + 1) / tasks;
    for (int64_t row = first; row < last; ++row) fn(row, workers[worker], task);
  });
}

void RunState::process_row(int pass, int64_t row, Worker& w, Mode mode, int last_sweep, const RowHook& hook,
                           int64_t task) {
  // Group values of earlier passes come back from their per-tensor copies.
  for (const auto& info : L.nodes)
    if (info.persistent && info.at.pass < pass)
      for (int slot : {info.slot, info.pos_slot})
        if (slot >= 0) {
          int64_t g = groups[L.group_slot_class[slot]];
          std::copy_n(kept[slot].begin() + row * g, g, w.gs.begin() + gs_offset[slot]);
        }
  const auto& sweeps = L.sweeps[pass];
  int last_stage = mode == Mode::Normal ? L.stages(pass) - 1 : last_sweep;
  const float* in_row = in.data && cols ? in.data + row * cols : nullptr;
  auto* scratch = reinterpret_cast<uint8_t*>(w.scratch.data());
  for (int t = 0; t <= last_stage; ++t) {
    eval_stage(pass, t, row, w);
    if (t >= static_cast<int>(sweeps.size())) continue;
    const SweepPlan& plan = sweeps[t];
    void* out_row = nullptr;
    if (plan.output && cols)
      out_row = L.result == kir::ResultKind::Tensor ? static_cast<void*>(out.values.data() + row * cols)
                                                    : static_cast<void*>(out.codes.data() + row * cols);
    if (mode == Mode::Normal && plan.native_quantile >= 0 && scan_weights(plan, row, w, task)) continue;
    if (mode == Mode::Diagnose && t == last_sweep) {
      auto table = code.diagnostics.get();
      w.record.fill(0);
      if (table.ok() && (**table)[pass][t]) (**table)[pass][t](in_row, out_row, &rs[row * L.row_slots], w.gs.data(), us.data(), ix.data(), scratch, row, w.record.data());
      return;
    }
    // Group accumulators start at their identity (max/min hold integer keys).
    for (int id : plan.reductions) {
      const NodeInfo& info = L.nodes[id];
      if (info.node->kind != NodeKind::Reduce || info.node->level.kind != Level::Kind::Group) continue;
      double identity = 0;
      auto op = static_cast<kir::ReduceOp>(info.node->op);
      if (op == kir::ReduceOp::Count) identity = from_i64(0);
      if (op == kir::ReduceOp::Max) identity = from_i64(std::numeric_limits<int64_t>::min());
      if (op == kir::ReduceOp::Min) identity = from_i64(std::numeric_limits<int64_t>::max());
      std::fill_n(w.gs.begin() + gs_offset[info.slot], groups[info.size_class], identity);
    }
    SweepFn fn = code.sweeps[pass][t];
    if (!fn) {  // a native scan's fallback (SweepSet::NativeFallbacks), compiled by the first row that needs it
      auto fallbacks = code.native_fallbacks.get();
      if (!fallbacks.ok()) {
        fail({0, 0, 0}, fallbacks.error().message);
        return;
      }
      fn = (**fallbacks)[pass][t];
    }
    fn(in_row, out_row, &rs[row * L.row_slots], w.gs.data(), us.data(), ix.data(), scratch, row, nullptr);
    if (mode == Mode::Normal)
      for (int id : plan.reductions)
        if (GlobalSelect* g = select_of(id)) select_row(*g, row, w, task);
  }
  if (mode == Mode::Rerun) {
    // The sweeps rewrote their row reductions as raw accumulators: finish them again, as
    // the pass did, so that later passes read values (not a max's integer key).
    eval_stage(pass, last_stage + 1, row, w);
    hook(row, w, task);
    return;
  }
  // Group values later passes read are kept; the output's scales and zero points copied.
  for (const auto& info : L.nodes)
    if (info.persistent && info.at.pass == pass)
      for (int slot : {info.slot, info.pos_slot})
        if (slot >= 0) {
          int64_t g = groups[L.group_slot_class[slot]];
          std::copy_n(w.gs.begin() + gs_offset[slot], g, kept[slot].begin() + row * g);
        }
  if (L.result == kir::ResultKind::Quantized && pass == code.prepared.schedule.output_pass) {
    for (int id : {L.scale, L.zero}) {
      if (id < 0) continue;
      auto& dest = id == L.scale ? out.scales : out.zeros;
      const NodeInfo& info = L.nodes[id];
      if (info.node->level.kind == Level::Kind::Row) dest[row] = static_cast<float>(rs[row * L.row_slots + info.slot]);
      if (info.node->level.kind == Level::Kind::Group) {
        int64_t g = groups[info.size_class];
        for (int64_t j = 0; j < g; ++j) dest[row * g + j] = static_cast<float>(w.gs[gs_offset[info.slot] + j]);
      }
    }
  }
}

void RunState::set_code_bounds() {
  auto bits = kir::checked_bits(kernel, us[L.nodes[L.bits].slot], in);
  double lo = 0, hi = 0;  // a bad width still runs (safely), then fails after the weights' check
  if (!bits) {
    std::lock_guard<std::mutex> lock(failure_mutex);
    std::array<int64_t, 3> key{4, 0, 0};
    if (!failure || key < failure->first) failure = {key, bits.error().message};
  } else {
    out.bits = *bits;
    hi = out.has_zero ? double((1 << *bits) - 1) : double((1 << (*bits - 1)) - 1);
    lo = out.has_zero ? 0.0 : -double(1 << (*bits - 1));
  }
  us[L.code_lo_slot] = lo;
  us[L.code_hi_slot] = hi;
}

// After a pass, its reductions over all. A quantile's selection among its candidates is
// serial and reads what the pass evicted; meanwhile the other thread prefetches the next
// pass's first rows, so that the memory bus does not idle (the fused bench kernel's
// output pass 0.2-0.5 ms faster on the project's machine).
void RunState::finish_pass(int pass) {
  const auto& ids = L.finalize_after[pass];
  std::vector<char> done(ids.size(), 0);
  bool selects_here = std::any_of(ids.begin(), ids.end(), [&](int id) { return select_of(id) != nullptr; });
  if (selects_here && threads > 1 && pass + 1 < L.passes()) {
    std::atomic<bool> selecting{true};
    pool.run(2, 2, [&](int64_t task, int) {
      if (task == 1) return warm_rows(selecting);
      for (size_t i = 0; i < ids.size(); ++i)
        if (select_of(ids[i])) done[i] = select_over_all(ids[i], true, true);
      selecting = false;
    });
  }
  for (size_t i = 0; i < ids.size(); ++i)
    if (!done[i]) finalize(ids[i]);
}

void RunState::warm_rows(const std::atomic<bool>& selecting) {
  constexpr int64_t kBudget = int64_t{12} << 20;  // bytes
  int64_t tasks = std::min<int64_t>(row_tasks(), 2);
  int64_t rows_each = cols > 0 ? kBudget / (cols * static_cast<int64_t>(sizeof(float))) / 2 : 0;
  for (int64_t i = 0; i < rows_each && selecting.load(std::memory_order_relaxed); ++i)
    for (int64_t t = 0; t < tasks; ++t) {
      int64_t row = rows * t / row_tasks() + i;
      if (row >= rows * (t + 1) / row_tasks()) continue;
      const float* weights = in.data + row * cols;
      for (int64_t c = 0; c < cols; c += 16) __builtin_prefetch(weights + c, 0, 1);
    }
}

void RunState::begin_pass(int pass) {
  if (L.result == kir::ResultKind::Quantized && pass == code.prepared.schedule.output_pass) set_code_bounds();
  for (auto& g : selects)
    if (g->pass == pass) plan_select(*g);
}

void RunState::run_pass(int pass) {
  for_rows([&](int64_t row, Worker& w, int64_t task) { process_row(pass, row, w, Mode::Normal, 0, nullptr, task); });
}

// Failures flagged by the sweeps: the first flagged row of each sweep is run again by the
// diagnostic variant, which names its first failing element.
void RunState::diagnose_flags() {
  for (const auto& pass : L.sweeps)
    for (const auto& plan : pass) {
      if (!sweep_can_fail(plan)) continue;
      int64_t row = 0;
      while (row < rows && !failure_flagged(&rs[row * L.row_slots], plan)) ++row;
      if (row == rows) continue;
      Worker& w = workers[0];
      process_row(plan.pass, row, w, Mode::Diagnose, plan.sweep, nullptr, 0);
      if (w.record[0] == 0) {
        fail({6, row * cols, 0}, fmt::format("a run-time check failed in row {}", row));
        continue;
      }
      auto col = static_cast<int64_t>(w.record[1]);
      int node = static_cast<int>(w.record[4]);
      double value = w.record[3];
      if (static_cast<int>(w.record[2]) == static_cast<int>(DiagKind::Domain)) {
        int consumer = L.nodes[node].consumer;
        auto op = static_cast<kir::UnaryOp>(L.nodes[node].node->op);
        std::string what = fmt::format("{} of a negative number ({})", kir::unary_op_text(op), value);
        if (consumer >= 0) fail({3, consumer, row * cols + col}, what);
        else fail({6, row * cols + col, 0}, what);
      } else {
        const char* what = L.result == kir::ResultKind::Tensor ? "output" : "code";
        fail({6, row * cols + col, 1}, fmt::format("{} [{}, {}] is {}", what, row, col, value));
      }
    }
}

void RunState::assemble_output() {
  if (L.result == kir::ResultKind::Quantized) {
    for (int id : {L.scale, L.zero}) {
      if (id < 0 || !L.nodes[id].node->is_uniform()) continue;
      auto& dest = id == L.scale ? out.scales : out.zeros;
      std::fill(dest.begin(), dest.end(), static_cast<float>(us[L.nodes[id].slot]));
    }
    for (size_t u = 0; u < out.scales.size(); ++u) {
      if (!std::isfinite(out.scales[u])) fail({5, static_cast<int64_t>(u), 0}, fmt::format("scale {} is {}", u, out.scales[u]));
      if (out.has_zero && !std::isfinite(out.zeros[u]))
        fail({5, static_cast<int64_t>(u), 1}, fmt::format("zero point {} is {}", u, out.zeros[u]));
    }
  }
  for (size_t i = 0; i < L.measures.size(); ++i) {
    double v = us[L.nodes[L.measures[i].second].slot];
    if (!std::isfinite(v)) fail({7, static_cast<int64_t>(i), 0}, fmt::format("measure '{}' is {}", kernel.measures[i].name, v));
    out.measures.push_back({kernel.measures[i].name, v});
  }
}

Status RunState::run() {
  if (auto status = prepare(); !status) return status;
  int passes = L.passes();
  int steps = std::max(static_cast<int>(L.uniform_before.size()), passes);
  for (int p = 0; p < steps; ++p) {
    if (p < static_cast<int>(L.uniform_before.size()))
      for (int id : L.uniform_before[p]) eval_uniform(id);
    if (p >= passes) continue;
    begin_pass(p);
    bool merged = p == 0 && run_speculative();
    if (!merged) run_pass(p);
    if (p == 0) {
      // NaN and Inf weights come before every other failure, as in the interpreter.
      const SweepPlan& first = L.sweeps[0][0];
      for (int64_t row = 0; row < rows; ++row)
        if (row_slot(row, first.flag_slot + kFlagInput) != 0)
          for (int64_t c = 0; c < cols; ++c)
            if (!std::isfinite(in.data[row * cols + c]))
              return kir::run_error(kernel, in, fmt::format("weight [{}, {}] is {}", row, c, in.data[row * cols + c]));
    }
    if (merged) {
      settle_speculation();
      p = 1;
    }
    if (p < static_cast<int>(L.finalize_after.size())) finish_pass(p);
  }
  diagnose_flags();
  assemble_output();
  if (failure) return Error{failure->second};
  return Status::success();
}

Status execute(const CompiledKernel& code, const kir::Kernel& kernel, const kir::TensorView& input,
               const kir::ParamValues& params, ThreadPool& pool, BufferCache& cache, int threads,
               kir::KernelOutput& out) {
  return RunState(code, kernel, input, params, pool, cache, threads, out).run();
}

}  // namespace kmr::codegen
