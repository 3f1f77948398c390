// The KIR interpreter: coarse values (per tensor, row or group) are computed into fields
// in topological order; values per element by a small tape evaluated element by element.
#include "compiler/interp/interpreter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "compiler/kir/semantics.h"

namespace kmr::interp {
namespace {

using kir::Level;
using kir::Node;
using kir::NodeKind;

constexpr int64_t kPastEnd = std::numeric_limits<int64_t>::max();

struct Field {
  std::vector<double> values;
  std::vector<int64_t> positions;  // quantiles: the position of the unit at rank k
};

// A unit reduced over: its value and its position (the sort's tie-breaker).
struct Item {
  double value;
  int64_t pos;
};

// Total order for quantiles: NaN after every number, then by position.
bool item_less(const Item& a, const Item& b) {
  bool an = std::isnan(a.value), bn = std::isnan(b.value);
  if (an != bn) return bn;
  if (!an && a.value != b.value) return a.value < b.value;
  return a.pos < b.pos;
}

class Interpreter {
 public:
  Interpreter(const kir::Kernel& kernel, const kir::TensorView& in, const kir::ParamValues& params)
      : k_(kernel), in_(in), params_(params) {}

  Expected<kir::KernelOutput> run();

 private:
  Status prepare_groups();
  int64_t group_size(const Level& level) const { return sizes_.at(level.size.get()); }
  int64_t groups_per_row(int64_t g) const { return in_.cols == 0 || g == 0 ? 0 : (in_.cols + g - 1) / g; }
  int64_t units(const Level& level) const {
    switch (level.kind) {
      case Level::Kind::Uniform: return 1;
      case Level::Kind::Row: return in_.rows;
      case Level::Kind::Group: return in_.rows * groups_per_row(group_size(level));
      case Level::Kind::Element: return in_.rows * in_.cols;
    }
    return 0;
  }
  // The index of the unit at `level` holding element (r, c).
  int64_t unit_of(const Level& level, int64_t r, int64_t c) const {
    switch (level.kind) {
      case Level::Kind::Uniform: return 0;
      case Level::Kind::Row: return r;
      case Level::Kind::Group: {
        int64_t g = group_size(level);
        return r * groups_per_row(g) + c / g;
      }
      case Level::Kind::Element: return r * in_.cols + c;
    }
    return 0;
  }
  // The first element (r, c) of unit `u` at `level` (for coarse operands of coarse nodes).
  std::pair<int64_t, int64_t> element_of(const Level& level, int64_t u) const {
    switch (level.kind) {
      case Level::Kind::Uniform: return {0, 0};
      case Level::Kind::Row: return {u, 0};
      case Level::Kind::Group: {
        int64_t g = group_size(level), n = groups_per_row(g);
        return {u / n, (u % n) * g};
      }
      case Level::Kind::Element: return {u / in_.cols, u % in_.cols};
    }
    return {0, 0};
  }
  double coarse_at(const Node& node, int64_t r, int64_t c) const {
    return fields_.at(&node).values[unit_of(node.level, r, c)];
  }
  Status compute_coarse(const Node& node);
  Status reduce(const Node& node, Field& field);
  double element(const Node& node, int64_t r, int64_t c);
  double apply(const Node& node, const std::vector<double>& operands, bool as_float);
  Status domain_error(const Node& node, double x);

  const kir::Kernel& k_;
  const kir::TensorView& in_;
  const kir::ParamValues& params_;
  std::unordered_map<const Node*, int64_t> sizes_;
  std::unordered_map<const Node*, Field> fields_;
  std::unordered_map<const Node*, std::pair<uint64_t, double>> memo_;  // element values, stamped
  uint64_t stamp_ = 0;
  Status error_;
};

Status Interpreter::prepare_groups() {
  for (const Node* node : kir::topological_order(k_.roots())) {
    for (const Level* level : {&node->level, &node->domain})
      if (level->kind == Level::Kind::Group && !sizes_.count(level->size.get())) {
        auto g = kir::effective_group_size(k_, *level->size, params_, in_);
        if (!g) return g.error();
        sizes_[level->size.get()] = *g;
      }
  }
  return Status::success();
}

Status Interpreter::domain_error(const Node& node, double x) {
  auto op = static_cast<kir::UnaryOp>(node.op);
  if (node.kind == NodeKind::Unary && (op == kir::UnaryOp::Sqrt || op == kir::UnaryOp::Log) && x < 0 && error_.ok())
    error_ = kir::run_error(k_, in_, fmt::format("{} of a negative number ({})", kir::unary_op_text(op), x));
  return error_;
}

double Interpreter::apply(const Node& node, const std::vector<double>& v, bool as_float) {
  switch (node.kind) {
    case NodeKind::Unary:
      (void)domain_error(node, v[0]);
      return as_float ? kir::sem::unary(static_cast<kir::UnaryOp>(node.op), static_cast<float>(v[0]))
                      : kir::sem::unary(static_cast<kir::UnaryOp>(node.op), v[0]);
    case NodeKind::Binary:
      return as_float ? kir::sem::binary(static_cast<kir::BinaryOp>(node.op), static_cast<float>(v[0]), static_cast<float>(v[1]))
                      : kir::sem::binary(static_cast<kir::BinaryOp>(node.op), v[0], v[1]);
    case NodeKind::Select:
      return v[0] != 0 ? (as_float ? static_cast<float>(v[1]) : v[1]) : (as_float ? static_cast<float>(v[2]) : v[2]);
    default: return 0;
  }
}

// The value of `node` at element (r, c); coarse operands enter element arithmetic rounded
// to f32, as the typing rule says.
double Interpreter::element(const Node& node, int64_t r, int64_t c) {
  if (!node.is_element()) return coarse_at(node, r, c);
  auto& slot = memo_[&node];
  if (slot.first == stamp_) return slot.second;
  double value = 0;
  switch (node.kind) {
    case NodeKind::Input: value = in_.data[r * in_.cols + c]; break;
    case NodeKind::RankCmp: {
      const Node& quantile = node.operand(1);
      int64_t unit = unit_of(quantile.level, r, c);
      const Field& field = fields_.at(&quantile);
      // Exact values on both sides: the quantile's value is one of x's.
      double x = element(node.operand(0), r, c);
      int64_t pos = quantile.grouping.kind == kir::Grouping::Kind::All ? r * in_.cols + c : c;
      value = kir::sem::rank_compare(static_cast<kir::BinaryOp>(node.op), x, pos, field.values[unit], field.positions[unit]);
      break;
    }
    default: {
      std::vector<double> operands;
      for (const auto& operand : node.operands) operands.push_back(element(*operand, r, c));
      value = apply(node, operands, node.type != kir::ScalarType::Bool || node.kind == NodeKind::Binary);
    }
  }
  slot = {stamp_, value};
  return value;
}

Status Interpreter::reduce(const Node& node, Field& field) {
  const Level& domain = node.domain;
  int64_t n_units = units(node.level);
  field.values.assign(n_units, 0);
  if (node.kind == NodeKind::Quantile) field.positions.assign(n_units, kPastEnd);
  double q = node.kind == NodeKind::Quantile ? fields_.at(&node.operand(1)).values[0] : 0;
  bool over_all = node.grouping.kind == kir::Grouping::Kind::All;
  std::vector<Item> items;
  for (int64_t u = 0; u < n_units; ++u) {
    items.clear();
    // 1. The units of the domain inside unit u, with their positions.
    if (domain.kind == Level::Kind::Element) {
      int64_t r0 = 0, r1 = in_.rows, c0 = 0, c1 = in_.cols;
      if (node.level.kind == Level::Kind::Row) r0 = u, r1 = u + 1;
      if (node.level.kind == Level::Kind::Group) {
        auto [r, c] = element_of(node.level, u);
        r0 = r, r1 = r + 1, c0 = c, c1 = std::min(in_.cols, c + group_size(node.level));
      }
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          ++stamp_;
          items.push_back({element(node.operand(0), r, c), over_all ? r * in_.cols + c : c});
        }
    } else {
      // Coarse units (rows or groups) inside a row or the whole tensor.
      const Node& x = node.operand(0);
      int64_t per_row = domain.kind == Level::Kind::Group ? groups_per_row(group_size(domain)) : 1;
      int64_t first = over_all ? 0 : u * per_row, count = over_all ? units(domain) : per_row;
      const auto& values = fields_.at(&x).values;
      for (int64_t i = first; i < first + count; ++i) items.push_back({values[i], over_all ? i : i - first});
    }
    // 2. The reduction, left to right.
    double result = 0;
    if (node.kind == NodeKind::Quantile) {
      int64_t n = static_cast<int64_t>(items.size()), k = kir::sem::quantile_rank(q, n);
      if (n == 0) continue;
      if (k == n) {
        field.values[u] = std::max_element(items.begin(), items.end(), item_less)->value;
        continue;
      }
      std::nth_element(items.begin(), items.begin() + k, items.end(), item_less);
      field.values[u] = items[k].value;
      field.positions[u] = items[k].pos;
      continue;
    }
    switch (static_cast<kir::ReduceOp>(node.op)) {
      case kir::ReduceOp::Sum:
      case kir::ReduceOp::Mean:
        for (const auto& item : items) result += item.value;
        if (static_cast<kir::ReduceOp>(node.op) == kir::ReduceOp::Mean) result = kir::sem::div(result, double(items.size()));
        break;
      case kir::ReduceOp::Max:
      case kir::ReduceOp::Min:
        // Over no units the max and min are 0 (docs/kernels.md), never infinities.
        if (!items.empty()) result = items[0].value;
        for (const auto& item : items)
          result = static_cast<kir::ReduceOp>(node.op) == kir::ReduceOp::Max ? kir::sem::max(item.value, result)
                                                                             : kir::sem::min(item.value, result);
        break;
      case kir::ReduceOp::Count:
        for (const auto& item : items) result += item.value != 0 ? 1 : 0;
        break;
    }
    field.values[u] = result;
  }
  return error_;
}

Status Interpreter::compute_coarse(const Node& node) {
  Field& field = fields_[&node];
  switch (node.kind) {
    case NodeKind::Const: field.values = {node.value}; return Status::success();
    case NodeKind::Param: field.values = {params_[node.param]}; return Status::success();
    case NodeKind::Reduce:
    case NodeKind::Quantile: return reduce(node, field);
    case NodeKind::RankCmp: {
      // A coarse rank comparison: the units are rows or groups, compared with the quantile
      // of the grouping that holds them.
      const Node& quantile = node.operand(1);
      const auto& x = fields_.at(&node.operand(0)).values;
      const Field& q = fields_.at(&quantile);
      bool over_all = quantile.grouping.kind == kir::Grouping::Kind::All;
      int64_t per_row = node.level.kind == Level::Kind::Group ? groups_per_row(group_size(node.level)) : 1;
      field.values.resize(x.size());
      for (size_t u = 0; u < x.size(); ++u) {
        int64_t qu = over_all ? 0 : static_cast<int64_t>(u) / per_row;
        int64_t pos = over_all ? static_cast<int64_t>(u) : static_cast<int64_t>(u) % per_row;
        field.values[u] = kir::sem::rank_compare(static_cast<kir::BinaryOp>(node.op), x[u], pos, q.values[qu], q.positions[qu]);
      }
      return Status::success();
    }
    default: {
      int64_t n = units(node.level);
      field.values.resize(n);
      std::vector<double> operands(node.operands.size());
      for (int64_t u = 0; u < n; ++u) {
        auto [r, c] = element_of(node.level, u);
        for (size_t i = 0; i < operands.size(); ++i) operands[i] = coarse_at(*node.operands[i], r, c);
        field.values[u] = apply(node, operands, false);
      }
      return error_;
    }
  }
}

Expected<kir::KernelOutput> Interpreter::run() {
  if (auto status = kir::check_params(k_, params_, in_); !status) return status.error();
  for (int64_t i = 0; i < in_.size(); ++i)
    if (!std::isfinite(in_.data[i]))
      return kir::run_error(k_, in_, fmt::format("weight [{}, {}] is {}", i / in_.cols, i % in_.cols, in_.data[i]));
  if (auto status = prepare_groups(); !status) return status.error();
  for (const Node* node : kir::topological_order(k_.roots()))
    if (!node->is_element())
      if (auto status = compute_coarse(*node); !status) return status.error();
  kir::KernelOutput out;
  out.kind = k_.result;
  auto bad_output = [&](const char* what, int64_t i, double v) {
    return kir::run_error(k_, in_, fmt::format("{} [{}, {}] is {}", what, in_.cols ? i / in_.cols : 0, in_.cols ? i % in_.cols : 0, v));
  };
  if (k_.result == kir::ResultKind::Tensor) {
    out.values.resize(in_.size());
    for (int64_t i = 0; i < in_.size(); ++i) {
      ++stamp_;
      out.values[i] = static_cast<float>(element(*k_.value, i / in_.cols, i % in_.cols));
      if (!error_) return error_.error();
      if (!std::isfinite(out.values[i])) return bad_output("output", i, out.values[i]);
    }
  } else {
    auto bits = kir::checked_bits(k_, fields_.at(k_.bits.get()).values[0], in_);
    if (!bits) return bits.error();
    out.bits = *bits;
    out.has_zero = k_.zero != nullptr;
    out.codes_signed = !out.has_zero;
    const Level& grid = k_.scale->level;
    out.grid = grid.kind == Level::Kind::Uniform ? kir::ScaleGrid::Tensor
               : grid.kind == Level::Kind::Row   ? kir::ScaleGrid::Row
                                                 : kir::ScaleGrid::Group;
    if (out.grid == kir::ScaleGrid::Group) out.group_size = group_size(grid);
    // group(0) (or a group as long as the row) is per row.
    if (out.grid == kir::ScaleGrid::Group && out.group_size == in_.cols && in_.cols > 0) out.grid = kir::ScaleGrid::Row;
    int64_t n = units(grid);
    for (int64_t u = 0; u < n; ++u) {
      auto [r, c] = element_of(grid, u);
      out.scales.push_back(static_cast<float>(coarse_at(*k_.scale, r, c)));
      if (!std::isfinite(out.scales.back())) return kir::run_error(k_, in_, fmt::format("scale {} is {}", u, out.scales.back()));
      if (out.has_zero) {
        out.zeros.push_back(static_cast<float>(coarse_at(*k_.zero, r, c)));
        if (!std::isfinite(out.zeros.back())) return kir::run_error(k_, in_, fmt::format("zero point {} is {}", u, out.zeros.back()));
      }
    }
    float hi = out.has_zero ? float((1 << out.bits) - 1) : float((1 << (out.bits - 1)) - 1);
    float lo = out.has_zero ? 0.0f : -float(1 << (out.bits - 1));
    out.codes.resize(in_.size());
    for (int64_t i = 0; i < in_.size(); ++i) {
      ++stamp_;
      auto q = static_cast<float>(element(*k_.q, i / in_.cols, i % in_.cols));
      if (!error_) return error_.error();
      if (!std::isfinite(q)) return bad_output("code", i, q);
      out.codes[i] = static_cast<uint8_t>(kir::sem::to_code(q, lo, hi));
    }
  }
  if (!error_) return error_.error();
  for (const auto& measure : k_.measures) {
    double v = fields_.at(measure.value.get()).values[0];
    if (!std::isfinite(v)) return kir::run_error(k_, in_, fmt::format("measure '{}' is {}", measure.name, v));
    out.measures.push_back({measure.name, v});
  }
  return out;
}

}  // namespace

Expected<kir::KernelOutput> run(const kir::Kernel& kernel, const kir::TensorView& input, const kir::ParamValues& params) {
  return Interpreter(kernel, input, params).run();
}

}  // namespace kmr::interp
