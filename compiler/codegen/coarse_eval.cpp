// Coarse values (per tensor, row or group) in C++ with the shared semantics, so they are
// computed exactly as the interpreter computes them; reductions over elements are
// finished here from the generated code's accumulators and scratch rows.
#include <cmath>

#include <fmt/format.h>

#include "compiler/codegen/run_state.h"
#include "compiler/kir/semantics.h"

namespace kmr::codegen {
namespace {

using kir::Level;
using kir::NodeKind;

// A reduction (not quantile) over `n` units given one at a time, left to right.
struct Reducer {
  kir::ReduceOp op;
  double result = 0;
  int64_t n = 0;
  void add(double v) {
    switch (op) {
      case kir::ReduceOp::Sum:
      case kir::ReduceOp::Mean: result += v; break;
      case kir::ReduceOp::Max: result = n == 0 ? v : kir::sem::max(v, result); break;
      case kir::ReduceOp::Min: result = n == 0 ? v : kir::sem::min(v, result); break;
      case kir::ReduceOp::Count: result += v != 0 ? 1 : 0; break;
    }
    ++n;
  }
  double value() const { return op == kir::ReduceOp::Mean ? kir::sem::div(result, double(n)) : result; }
};

// The value of a generated accumulator over `n` elements (max/min hold integer keys).
double finish_accumulator(kir::ReduceOp op, double raw, int64_t n, bool f32_operand) {
  switch (op) {
    case kir::ReduceOp::Sum: return raw;
    case kir::ReduceOp::Mean: return kir::sem::div(raw, double(n));
    case kir::ReduceOp::Count: return static_cast<double>(as_i64(raw));
    case kir::ReduceOp::Max:
    case kir::ReduceOp::Min:
      if (n == 0) return 0;  // over no units (docs/kernels.md)
      return f32_operand ? static_cast<double>(from_signed_key(static_cast<int32_t>(as_i64(raw))))
                         : from_signed_key(as_i64(raw));
  }
  return raw;
}

double apply(const kir::Node& node, double a, double b, double c) {
  switch (node.kind) {
    case NodeKind::Unary: return kir::sem::unary(static_cast<kir::UnaryOp>(node.op), a);
    case NodeKind::Binary: return kir::sem::binary(static_cast<kir::BinaryOp>(node.op), a, b);
    case NodeKind::Select: return a != 0 ? b : c;
    default: return 0;
  }
}

bool domain_fails(const kir::Node& node, double x) {
  auto op = static_cast<kir::UnaryOp>(node.op);
  return node.kind == NodeKind::Unary && (op == kir::UnaryOp::Sqrt || op == kir::UnaryOp::Log) && x < 0;
}

// Element-wise coarse nodes over all units of a row at once: operands as (pointer,
// stride) — stride 0 for a uniform or row value broadcast to groups — and the operator a
// template argument, so each loop is a few instructions per unit.
struct Strided {
  const double* at;
  int64_t stride;
  double operator[](int64_t j) const { return at[j * stride]; }
};

template <kir::UnaryOp Op>
void unary_units(Strided a, double* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = kir::sem::unary(Op, a[j]);
}
template <kir::BinaryOp Op>
void binary_units(Strided a, Strided b, double* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = kir::sem::binary(Op, a[j], b[j]);
}

void map_units(const kir::Node& node, const Strided* in, double* out, int64_t n) {
  switch (node.kind) {
    case NodeKind::Unary:
      switch (static_cast<kir::UnaryOp>(node.op)) {
#define KIR_UNARY(op, text, takes_bool) \
  case kir::UnaryOp::op: return unary_units<kir::UnaryOp::op>(in[0], out, n);
#include "compiler/kir/nodes.def"
#undef KIR_UNARY
      }
      return;
    case NodeKind::Binary:
      switch (static_cast<kir::BinaryOp>(node.op)) {
#define KIR_BINARY(op, text, kind) \
  case kir::BinaryOp::op: return binary_units<kir::BinaryOp::op>(in[0], in[1], out, n);
#include "compiler/kir/nodes.def"
#undef KIR_BINARY
      }
      return;
    case NodeKind::Select:
      for (int64_t j = 0; j < n; ++j) out[j] = in[0][j] != 0 ? in[1][j] : in[2][j];
      return;
    default: return;
  }
}

}  // namespace

double RunState::coarse_at(int id, int64_t row, int64_t group, const Worker& w) const {
  const NodeInfo& info = L.nodes[id];
  switch (info.node->level.kind) {
    case Level::Kind::Uniform: return us[info.slot];
    case Level::Kind::Row: return rs[row * L.row_slots + info.slot];
    case Level::Kind::Group: return w.gs[gs_offset[info.slot] + group];
    case Level::Kind::Element: break;
  }
  return 0;
}

void RunState::eval_uniform(int id) {
  const NodeInfo& info = L.nodes[id];
  const kir::Node& node = *info.node;
  double v[3] = {0, 0, 0};
  for (size_t i = 0; i < info.operands.size() && i < 3; ++i) v[i] = us[L.nodes[info.operands[i]].slot];
  switch (node.kind) {
    case NodeKind::Const: us[info.slot] = node.value; return;
    case NodeKind::Param: us[info.slot] = params[node.param]; return;
    case NodeKind::Unary:
    case NodeKind::Binary:
    case NodeKind::Select:
      if (domain_fails(node, v[0]))
        fail({3, id, 0}, fmt::format("{} of a negative number ({})", kir::unary_op_text(static_cast<kir::UnaryOp>(node.op)), v[0]));
      us[info.slot] = apply(node, v[0], v[1], v[2]);
      return;
    default: return;  // reductions are finished after their pass (finalize)
  }
}

// The row and group values placed at (pass, stage), for one row, in topological order.
void RunState::eval_stage(int pass, int stage, int64_t row, Worker& w) {
  if (stage >= L.stages(pass)) return;
  for (int id : L.coarse[pass][stage]) {
    const NodeInfo& info = L.nodes[id];
    const kir::Node& node = *info.node;
    bool is_group = node.level.kind == Level::Kind::Group;
    int64_t units = is_group ? groups[info.size_class] : 1;
    if (node.kind == NodeKind::Unary || node.kind == NodeKind::Binary || node.kind == NodeKind::Select) {
      Strided in[3] = {};
      for (size_t i = 0; i < info.operands.size() && i < 3; ++i) {
        const NodeInfo& x = L.nodes[info.operands[i]];
        switch (x.node->level.kind) {
          case Level::Kind::Group: in[i] = {w.gs.data() + gs_offset[x.slot], 1}; break;
          case Level::Kind::Row: in[i] = {&rs[row * L.row_slots + x.slot], 0}; break;
          default: in[i] = {&us[x.slot], 0}; break;
        }
      }
      if (node.kind == NodeKind::Unary)
        for (int64_t j = 0; j < units; ++j)
          if (domain_fails(node, in[0][j]))
            fail({3, id, is_group ? row * units + j : row},
                 fmt::format("{} of a negative number ({})", kir::unary_op_text(static_cast<kir::UnaryOp>(node.op)), in[0][j]));
      map_units(node, in, is_group ? w.gs.data() + gs_offset[info.slot] : &rs[row * L.row_slots + info.slot], units);
      continue;
    }
    for (int64_t j = 0; j < units; ++j) {
      double& slot = is_group ? w.gs[gs_offset[info.slot] + j] : rs[row * L.row_slots + info.slot];
      double* pos_slot = nullptr;
      if (info.pos_slot >= 0) pos_slot = is_group ? &w.gs[gs_offset[info.pos_slot] + j] : &rs[row * L.row_slots + info.pos_slot];
      int64_t unit_index = is_group ? row * units + j : row;
      int64_t first = is_group ? j * size[info.size_class] : 0;
      int64_t n = is_group ? group_length(info.size_class, j) : cols;
      switch (node.kind) {
        case NodeKind::Reduce: {
          auto op = static_cast<kir::ReduceOp>(node.op);
          if (info.kept_max >= 0) {  // passes::KeptRowMax: M if the row's top unit is kept, else 0
            double m = rs[row * L.row_slots + L.nodes[info.kept_max].slot];
            const NodeInfo& q = L.nodes[info.kept_quantile];
            double q_value = us[q.slot];
            int64_t q_pos = as_i64(us[q.pos_slot]);
            slot = top_unit_kept(m, q_value, q_pos, row) ? m : 0.0;
            break;
          }
          if (element_domain(info)) {
            slot = finish_accumulator(op, slot, n, L.nodes[info.operands[0]].node->is_element());
            break;
          }
          // A row value over the row's groups (the only coarse domain inside a row).
          const NodeInfo& x = L.nodes[info.operands[0]];
          Reducer reducer{op};
          for (int64_t g = 0; g < groups[x.size_class]; ++g) reducer.add(w.gs[gs_offset[x.slot] + g]);
          slot = reducer.value();
          break;
        }
        case NodeKind::Quantile: {
          double q = us[L.nodes[info.operands[1]].slot];
          const NodeInfo& x = L.nodes[info.operands[0]];
          int64_t index = -1, k = 0;
          double value = 0;
          if (element_domain(info)) {
            const uint8_t* base = reinterpret_cast<const uint8_t*>(w.scratch.data()) + ix[L.ix.scratch_base + info.scratch];
            k = kir::sem::quantile_rank(q, n);
            if (n > 0 && info.scratch_f64) {
              const double* v = reinterpret_cast<const double*>(base) + first;
              index = select_rank(v, n, std::min(k, n - 1), w.select);
              value = v[index];
            } else if (n > 0) {
              const float* v = reinterpret_cast<const float*>(base) + first;
              index = select_rank(v, n, std::min(k, n - 1), w.select);
              value = v[index];
            }
            if (index >= 0) index += first;  // positions are columns within the row
          } else {
            n = groups[x.size_class];
            const double* v = w.gs.data() + gs_offset[x.slot];
            k = kir::sem::quantile_rank(q, n);
            if (n > 0) {
              index = select_rank(v, n, std::min(k, n - 1), w.select);
              value = v[index];
            }
          }
          slot = value;
          *pos_slot = from_i64(index < 0 || k == n ? kPastEnd : index);
          break;
        }
        case NodeKind::RankCmp: {
          const NodeInfo& quantile = L.nodes[info.operands[1]];
          double x = coarse_at(info.operands[0], row, j, w);
          double kvalue = coarse_at(info.operands[1], row, 0, w);
          double kpos_slot = quantile.node->is_uniform() ? us[quantile.pos_slot] : rs[row * L.row_slots + quantile.pos_slot];
          bool over_all = quantile.node->grouping.kind == kir::Grouping::Kind::All;
          int64_t pos = over_all ? unit_index : j;
          slot = kir::sem::rank_compare(static_cast<kir::BinaryOp>(node.op), x, pos, kvalue, as_i64(kpos_slot)) ? 1 : 0;
          break;
        }
        default: {
          double v[3] = {0, 0, 0};
          for (size_t i = 0; i < info.operands.size() && i < 3; ++i) v[i] = coarse_at(info.operands[i], row, j, w);
          if (domain_fails(node, v[0]))
            fail({3, id, unit_index},
                 fmt::format("{} of a negative number ({})", kir::unary_op_text(static_cast<kir::UnaryOp>(node.op)), v[0]));
          slot = apply(node, v[0], v[1], v[2]);
        }
      }
    }
  }
}

// A reduction over the whole tensor, after the pass that accumulated it.
void RunState::finalize(int id) {
  const NodeInfo& info = L.nodes[id];
  const kir::Node& node = *info.node;
  if (node.kind == NodeKind::Quantile && element_domain(info)) {
    select_over_all(id, false);
    return;
  }
  if (element_domain(info)) {
    // Per-row partials, combined in row order (the same for any thread count).
    auto op = static_cast<kir::ReduceOp>(node.op);
    bool f32_operand = L.nodes[info.operands[0]].node->is_element();
    Reducer reducer{op == kir::ReduceOp::Mean ? kir::ReduceOp::Sum : op};
    for (int64_t row = 0; cols > 0 && row < rows; ++row) {
      double raw = row_slot(row, info.partial_slot);
      if (op == kir::ReduceOp::Count) reducer.result += static_cast<double>(as_i64(raw));
      else reducer.add(finish_accumulator(op == kir::ReduceOp::Mean ? kir::ReduceOp::Sum : op, raw, cols, f32_operand));
    }
    us[info.slot] = op == kir::ReduceOp::Mean ? kir::sem::div(reducer.result, double(rows * cols)) : reducer.result;
    return;
  }
  // Over the rows' or groups' values, in unit order, exactly as the interpreter.
  const NodeInfo& x = L.nodes[info.operands[0]];
  std::vector<double> units;
  if (x.node->level.kind == Level::Kind::Row) {
    for (int64_t row = 0; row < rows; ++row) units.push_back(row_slot(row, x.slot));
  } else {
    units = kept[x.slot];
  }
  if (node.kind == NodeKind::Quantile) {
    auto n = static_cast<int64_t>(units.size());
    int64_t k = kir::sem::quantile_rank(us[L.nodes[info.operands[1]].slot], n);
    int64_t index = n > 0 ? select_rank(units.data(), n, std::min(k, n - 1), workers[0].select) : -1;
    us[info.slot] = index >= 0 ? units[index] : 0;
    us[info.pos_slot] = from_i64(index < 0 || k == n ? kPastEnd : index);
    return;
  }
  Reducer reducer{static_cast<kir::ReduceOp>(node.op)};
  for (double v : units) reducer.add(v);
  us[info.slot] = reducer.value();
}

}  // namespace kmr::codegen
