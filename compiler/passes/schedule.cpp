// Assigns every node a (pass, sweep) placement in one topological walk, then gathers the
// reductions of each sweep.
#include "compiler/passes/schedule.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "compiler/kir/printer.h"
#include "compiler/passes/value_range.h"

namespace kmr::passes {
namespace {

using kir::NodeKind;

bool is_reduction(const kir::Node& node) {
  return node.kind == NodeKind::Reduce || node.kind == NodeKind::Quantile;
}

// The x and q when `node` is a KeptRowMax's R (see schedule.h).
std::optional<std::pair<kir::NodeRef, const kir::Node*>> kept_row_max_of(
    const kir::Node& node, const std::unordered_map<const kir::Node*, ValueRange>& ranges) {
  if (node.kind != NodeKind::Reduce || static_cast<kir::ReduceOp>(node.op) != kir::ReduceOp::Max ||
      node.grouping.kind != kir::Grouping::Kind::Row || node.domain.kind != kir::Level::Kind::Element)
    return std::nullopt;
  const kir::Node* select = node.operands[0].get();
  bool under_abs = select->is(kir::UnaryOp::Abs);
  if (under_abs) select = select->operands[0].get();
  if (select->kind != NodeKind::Select) return std::nullopt;
  const kir::Node& cond = select->operand(0);
  const kir::Node& zero = select->operand(2);
  if (cond.kind != NodeKind::RankCmp || static_cast<kir::BinaryOp>(cond.op) != kir::BinaryOp::Ge ||
      zero.kind != NodeKind::Const || zero.value != 0)
    return std::nullopt;
  const kir::NodeRef& x = cond.operands[0];
  const kir::Node& quantile = cond.operand(1);
  if (quantile.grouping.kind != kir::Grouping::Kind::All) return std::nullopt;
  const kir::Node& kept_value = select->operand(1);
  bool same = under_abs ? x->is(kir::UnaryOp::Abs) && kir::same_node(x->operand(0), kept_value)
                        : kir::same_node(*x, kept_value);
  const ValueRange& range = ranges.at(x.get());
  if (!same || range.nan || !(range.lo >= 0)) return std::nullopt;
  return std::make_pair(x, &quantile);
}

}  // namespace

Schedule schedule(const kir::Kernel& kernel) {
  Schedule out;
  // 1. Placements, operands first: a node is known once all its operands are; a reduction
  //    of an element-domain operand is known one sweep later (rows/groups) or one pass
  //    later (all); a reduction of coarser units is computed as soon as those are known,
  //    except over all, which waits for the pass to finish.
  auto order = kir::topological_order(kernel.roots());
  auto ranges = value_ranges(kernel);
  int last_pass = 0;
  std::vector<std::pair<const kir::Node*, Placement>> accumulated;  // element-domain reductions and their sweep
  for (const kir::Node* node : order) {
    Placement p;
    for (const auto& operand : node->operands) p = std::max(p, out.at.at(operand.get()));
    if (node->grouping.size) p = std::max(p, out.at.at(node->grouping.size.get()));
    if (auto kept = kept_row_max_of(*node, ranges)) {
      auto row_max = kir::make_reduce(kir::ReduceOp::Max, kept->first, node->grouping);
      if (row_max) {
        const kir::Node* m = row_max->get();
        Placement at_x = out.at.at(kept->first.get());
        accumulated.push_back({m, at_x});
        out.at[m] = Placement{at_x.pass, at_x.sweep + 1};
        out.coarse.push_back(m);
        out.at[node] = std::max(out.at[m], out.at.at(kept->second));
        out.coarse.push_back(node);
        out.kept_row_max[node] = KeptRowMax{std::move(row_max).value(), kept->second};
        continue;
      }
    }
    if (is_reduction(*node)) {
      bool element_domain = node->domain.kind == kir::Level::Kind::Element;
      if (element_domain) accumulated.push_back({node, p});
      bool over_all = node->grouping.kind == kir::Grouping::Kind::All;
      // Over all, even coarse units are complete only once every row has been through the pass.
      if (over_all)
        p = Placement{p.pass + 1, 0};
      else if (element_domain)
        p = Placement{p.pass, p.sweep + 1};
    }
    out.at[node] = p;
    if (!node->is_element()) out.coarse.push_back(node);
  }
  // 2. The output's sweep: where all its parts are known (a coarse output still needs a
  //    sweep to be written to every element).
  Placement output;
  for (const auto& part : {kernel.value, kernel.q, kernel.scale, kernel.zero, kernel.bits})
    if (part) output = std::max(output, out.at.at(part.get()));
  out.output_pass = output.pass;
  out.output_sweep = output.sweep;
  last_pass = output.pass;
  for (const auto& [node, p] : accumulated) last_pass = std::max(last_pass, p.pass);
  // Row and group values are computed row by row inside a pass, so their pass must exist.
  for (const kir::Node* node : out.coarse)
    if (!node->is_uniform()) last_pass = std::max(last_pass, out.at.at(node).pass);
  // 3. Sweeps per pass.
  out.passes.resize(last_pass + 1);
  auto sweep = [&](Placement p) -> Sweep& {
    auto& sweeps = out.passes[p.pass].sweeps;
    if (static_cast<int>(sweeps.size()) <= p.sweep) sweeps.resize(p.sweep + 1);
    return sweeps[p.sweep];
  };
  for (const auto& [node, p] : accumulated) sweep(p).reductions.push_back(node);
  sweep(output).output = true;
  sweep(Placement{0, 0}).check_input = true;
  for (auto& pass : out.passes)
    if (pass.sweeps.empty()) pass.sweeps.resize(1);
  return out;
}

std::string print_schedule(const kir::Kernel& kernel, const Schedule& schedule) {
  auto ids = kir::number_nodes(kernel);
  size_t passes = schedule.passes.size();
  std::string out = fmt::format("schedule: {} pass{} over the tensor ({} pre-pass{}{})\n", passes, passes == 1 ? "" : "es",
                                schedule.output_pass, schedule.output_pass == 1 ? "" : "es",
                                passes > static_cast<size_t>(schedule.output_pass) + 1 ? ", then passes for measures" : "");
  for (size_t p = 0; p < passes; ++p) {
    const auto& sweeps = schedule.passes[p].sweeps;
    for (size_t s = 0; s < sweeps.size(); ++s) {
      std::string items;
      auto add = [&](const std::string& item) { items += (items.empty() ? "" : ", ") + item; };
      if (sweeps[s].check_input) add("check input");
      for (const kir::Node* node : sweeps[s].reductions) {
        auto id = ids.find(node);
        if (id == ids.end())  // a row maximum the schedule added
          add(fmt::format("max %{} over row", ids.at(node->operands[0].get())));
        else
          add(fmt::format("{} %{}", node->kind == NodeKind::Quantile ? "quantile" : kir::reduce_op_text(static_cast<kir::ReduceOp>(node->op)),
                          id->second));
      }
      if (sweeps[s].output) add("write output");
      out += fmt::format("  pass {} sweep {}: {}\n", p + 1, s + 1, items.empty() ? "(nothing)" : items);
    }
  }
  for (const kir::Node* node : kir::topological_order(kernel.roots()))
    if (auto kept = schedule.kept_row_max.find(node); kept != schedule.kept_row_max.end())
      out += fmt::format("  %{}: the row max of %{} if the row's top unit ranks at or above %{}, else 0 (no sweep)\n",
                         ids.at(node), ids.at(kept->second.row_max->operands[0].get()), ids.at(kept->second.quantile));
  return out;
}

}  // namespace kmr::passes
