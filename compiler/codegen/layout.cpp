// Lays out a prepared kernel: interns its nodes by structure, gives every coarse value a
// slot, and turns the schedule into the sweeps and per-row stages the executor runs.
#include "compiler/codegen/layout.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "compiler/kir/printer.h"
#include "compiler/passes/value_range.h"

namespace kmr::codegen {
namespace {

using kir::Level;
using kir::Node;
using kir::NodeKind;

bool is_reduction(const Node& node) { return node.kind == NodeKind::Reduce || node.kind == NodeKind::Quantile; }

uint64_t bits_of(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

class LayoutBuilder {
 public:
  explicit LayoutBuilder(const passes::PreparedKernel& prepared) : prepared_(prepared) {}

  Layout build() {
    intern();
    assign_slots();
    plan_sweeps();
    plan_stages();
    mark_persistent_and_consumers();
    mark_only_measured();
    plan_speculation();
    finish_ix();
    return std::move(out_);
  }

 private:
  // 1. Interning: a node's signature is its own fields plus its operands' ids, so equal
  //    subtrees (shared or not) get one id, in first-visit (topological) order.
  void intern() {
    const kir::Kernel& k = prepared_.kernel;
    std::unordered_map<std::string, int> by_signature;
    // The row maxima the schedule added come first, so that the maxima derived from them
    // can name them in their signatures.
    std::vector<const Node*> roots;
    for (const Node* node : kir::topological_order(k.roots()))
      if (auto kept = prepared_.schedule.kept_row_max.find(node); kept != prepared_.schedule.kept_row_max.end())
        roots.push_back(kept->second.row_max.get());
    for (const Node* root : k.roots()) roots.push_back(root);
    for (const Node* node : kir::topological_order(roots)) {
      std::string sig = fmt::format("{} {} {} {:x} {} {}", static_cast<int>(node->kind), node->op,
                                    static_cast<int>(node->type), bits_of(node->value), node->param,
                                    static_cast<int>(node->grouping.kind));
      int size = node->grouping.size ? out_.id_of.at(node->grouping.size.get()) : -1;
      sig += fmt::format(" g{}", size);
      std::vector<int> operands;
      for (const auto& operand : node->operands) {
        operands.push_back(out_.id_of.at(operand.get()));
        sig += fmt::format(" %{}", operands.back());
      }
      int kept_max = -1, kept_quantile = -1;
      if (auto kept = prepared_.schedule.kept_row_max.find(node); kept != prepared_.schedule.kept_row_max.end()) {
        kept_max = out_.id_of.at(kept->second.row_max.get());
        kept_quantile = out_.id_of.at(kept->second.quantile);
        sig += fmt::format(" kept-max %{} %{}", kept_max, kept_quantile);
      }
      auto [it, fresh] = by_signature.emplace(sig, static_cast<int>(out_.nodes.size()));
      out_.id_of[node] = it->second;
      if (!fresh) continue;
      NodeInfo info;
      info.node = node;
      info.at = prepared_.schedule.at.at(node);
      info.operands = std::move(operands);
      info.size = size;
      info.kept_max = kept_max;
      info.kept_quantile = kept_quantile;
      // |x| is never -inf, whatever x (an f32 overflow included, which the value range,
      // computed in f64, does not bound).
      info.operand_never_minus_inf = node->kind == NodeKind::RankCmp && node->operand(0).is(kir::UnaryOp::Abs);
      out_.nodes.push_back(std::move(info));
      out_.canonical += sig + "\n";
    }
    auto id = [&](const kir::NodeRef& node) { return node ? out_.id_of.at(node.get()) : -1; };
    out_.result = k.result;
    out_.value = id(k.value);
    out_.q = id(k.q);
    out_.scale = id(k.scale);
    out_.zero = id(k.zero);
    out_.bits = id(k.bits);
    out_.q_finite_whole = passes::q_is_finite_whole(k);
    out_.q_within_codes = passes::q_within_codes(k);
    out_.canonical += fmt::format("result {} value {} q {} scale {} zero {} bits {} params {}\n",
                                  static_cast<int>(k.result), out_.value, out_.q, out_.scale, out_.zero, out_.bits,
                                  k.params.size());
    for (const auto& measure : k.measures) {
      out_.measures.push_back({measure.name, id(measure.value)});
      out_.canonical += fmt::format("measure {} {}\n", measure.name, out_.measures.back().second);
    }
    out_.hash = kir::structural_hash(k);
  }

  int size_class_of(int size_id) {
    auto it = std::find(out_.size_nodes.begin(), out_.size_nodes.end(), size_id);
    if (it != out_.size_nodes.end()) return static_cast<int>(it - out_.size_nodes.begin());
    out_.size_nodes.push_back(size_id);
    return static_cast<int>(out_.size_nodes.size()) - 1;
  }

  int new_slot(const Level& level, int size_class) {
    switch (level.kind) {
      case Level::Kind::Uniform: return out_.uniform_slots++;
      case Level::Kind::Row: return out_.row_slots++;
      case Level::Kind::Group:
        out_.group_slot_class.push_back(size_class);
        return out_.group_slots++;
      case Level::Kind::Element: return -1;
    }
    return -1;
  }

  // Nodes the tensor's result does not depend on (not the value, codes, scale or zero
  // point, nor anything they read): what only measures report.
  void mark_only_measured() {
    std::vector<bool> read_by_result(out_.nodes.size(), false);
    for (int root : {out_.value, out_.q, out_.scale, out_.zero, out_.bits})
      if (root >= 0) read_by_result[root] = true;
    for (int id = static_cast<int>(out_.nodes.size()) - 1; id >= 0; --id) {
      const NodeInfo& info = out_.nodes[id];
      if (!read_by_result[id]) continue;
      for (int operand : info.operands) read_by_result[operand] = true;
      const kir::Node* size = info.node->level.size.get();
      for (int other : {info.size, info.kept_max, info.kept_quantile, size ? out_.id_of.at(size) : -1})
        if (other >= 0) read_by_result[other] = true;
    }
    for (size_t id = 0; id < out_.nodes.size(); ++id) out_.nodes[id].only_measured = !read_by_result[id];
  }

  // 2. Slots: every coarse value one in its level's space; quantiles also the position of
  //    the selected unit; element-domain reductions over all a per-row partial; quantiles
  //    of elements a scratch row.
  void assign_slots() {
    for (auto& info : out_.nodes) {
      const Node& node = *info.node;
      if (node.level.kind == Level::Kind::Group) info.size_class = size_class_of(out_.id_of.at(node.level.size.get()));
      if (node.grouping.kind == kir::Grouping::Kind::Group) info.size_class = size_class_of(info.size);
      if (node.is_element()) continue;
      info.slot = new_slot(node.level, info.size_class);
      if (node.kind == NodeKind::Quantile) info.pos_slot = new_slot(node.level, info.size_class);
      if (is_reduction(node) && element_domain(info)) {
        if (node.kind == NodeKind::Quantile) {
          info.scratch = out_.scratch_count++;
          info.scratch_f64 = !node.operand(0).is_element();
        } else if (node.grouping.kind == kir::Grouping::Kind::All) {
          info.partial_slot = out_.row_slots++;
        }
      }
    }
    if (out_.result == kir::ResultKind::Quantized) {
      out_.code_lo_slot = out_.uniform_slots++;
      out_.code_hi_slot = out_.uniform_slots++;
    }
  }

  // Element nodes reachable from `root` without passing through coarse nodes, and the
  // coarse nodes they read.
  void walk_elements(int root, std::set<int>& elements, std::set<int>& coarse) {
    std::vector<int> stack{root};
    while (!stack.empty()) {
      int id = stack.back();
      stack.pop_back();
      const Node& node = *out_.nodes[id].node;
      if (!node.is_element()) {
        coarse.insert(id);
        continue;
      }
      if (!elements.insert(id).second) continue;
      for (int operand : out_.nodes[id].operands) stack.push_back(operand);
    }
  }

  // SweepPlan::native_quantile: one quantile over all of abs(w) or w, and only row maxima
  // of abs(w) besides.
  void plan_native_scan(SweepPlan& plan) const {
    auto is_input = [](const Node& node) { return node.kind == NodeKind::Input; };
    auto is_magnitude = [&](const Node& node) { return node.is(kir::UnaryOp::Abs) && is_input(node.operand(0)); };
    if (plan.output) return;
    int quantile = -1;
    std::vector<int> row_max;
    for (int id : plan.reductions) {
      const Node& node = *out_.nodes[id].node;
      const Node& x = node.operand(0);
      if (node.kind == NodeKind::Quantile && node.grouping.kind == kir::Grouping::Kind::All && quantile < 0 &&
          (is_magnitude(x) || is_input(x)))
        quantile = id;
      else if (node.kind == NodeKind::Reduce && static_cast<kir::ReduceOp>(node.op) == kir::ReduceOp::Max &&
               node.grouping.kind == kir::Grouping::Kind::Row && is_magnitude(x))
        row_max.push_back(id);
      else
        return;
    }
    if (quantile < 0) return;
    plan.native_quantile = quantile;
    plan.native_magnitude = is_magnitude(out_.nodes[quantile].node->operand(0));
    plan.native_row_max = std::move(row_max);
  }

  // 3. Sweeps, as the schedule placed them, with the group sizes each loop must respect.
  void plan_sweeps() {
    const auto& schedule = prepared_.schedule;
    out_.sweeps.resize(schedule.passes.size());
    for (size_t p = 0; p < schedule.passes.size(); ++p) {
      const auto& sweeps = schedule.passes[p].sweeps;
      for (size_t s = 0; s < sweeps.size(); ++s) {
        SweepPlan plan;
        plan.pass = static_cast<int>(p);
        plan.sweep = static_cast<int>(s);
        plan.output = sweeps[s].output;
        plan.check_input = sweeps[s].check_input;
        for (const Node* node : sweeps[s].reductions) {
          int id = out_.id_of.at(node);
          if (std::find(plan.reductions.begin(), plan.reductions.end(), id) == plan.reductions.end())
            plan.reductions.push_back(id);
        }
        std::set<int> elements, coarse, classes;
        for (int id : plan.reductions) {
          walk_elements(out_.nodes[id].operands[0], elements, coarse);
          if (out_.nodes[id].node->grouping.kind == kir::Grouping::Kind::Group) classes.insert(out_.nodes[id].size_class);
        }
        if (plan.output)
          for (int id : {out_.value, out_.q})
            if (id >= 0) walk_elements(id, elements, coarse);
        for (int id : coarse)
          if (out_.nodes[id].node->level.kind == Level::Kind::Group) classes.insert(out_.nodes[id].size_class);
        for (int id : elements) {
          const Node& node = *out_.nodes[id].node;
          auto op = static_cast<kir::UnaryOp>(node.op);
          if (node.kind == NodeKind::Unary && (op == kir::UnaryOp::Sqrt || op == kir::UnaryOp::Log))
            plan.has_domain_checks = true;
        }
        plan.size_classes.assign(classes.begin(), classes.end());
        plan.reads.assign(coarse.begin(), coarse.end());
        plan_native_scan(plan);
        plan.prefetch_next_row = s > 0;
        plan.flag_slot = out_.row_slots;
        out_.row_slots += kFlagCount;
        out_.sweeps[p].push_back(std::move(plan));
      }
    }
  }

  // 4. Stages: per pass, the row and group values computed before each sweep (and after
  //    the last, for what only later passes or measures read); uniform values before each
  //    pass; reductions over all after the pass that accumulates them.
  void plan_stages() {
    int passes = out_.passes();
    out_.coarse.resize(passes);
    for (int p = 0; p < passes; ++p) out_.coarse[p].resize(out_.sweeps[p].size());
    int last_uniform_pass = passes;
    for (const auto& info : out_.nodes) last_uniform_pass = std::max(last_uniform_pass, info.at.pass);
    out_.uniform_before.resize(last_uniform_pass + 1);
    out_.finalize_after.resize(std::max(passes, last_uniform_pass));
    for (size_t id = 0; id < out_.nodes.size(); ++id) {
      const auto& info = out_.nodes[id];
      const Node& node = *info.node;
      if (node.is_element()) continue;
      if (node.is_uniform()) {
        if (is_reduction(node))
          out_.finalize_after[std::max(info.at.pass - 1, 0)].push_back(static_cast<int>(id));
        else
          out_.uniform_before[info.at.pass].push_back(static_cast<int>(id));
        continue;
      }
      // Row and group values: the schedule guarantees their pass exists.
      int p = std::min(info.at.pass, passes - 1);
      auto& stages = out_.coarse[p];
      if (static_cast<int>(stages.size()) <= info.at.sweep) stages.resize(info.at.sweep + 1);
      stages[info.at.sweep].push_back(static_cast<int>(id));
    }
  }

  // 5. Group values read after their pass (by a later pass's coarse values or sweeps) are
  //    kept per tensor; the first coarse reader of each checked element node orders errors
  //    as the interpreter finds them.
  void mark_persistent_and_consumers() {
    std::vector<std::vector<int>> users(out_.nodes.size());
    for (size_t id = 0; id < out_.nodes.size(); ++id)
      for (int operand : out_.nodes[id].operands) users[operand].push_back(static_cast<int>(id));
    for (const auto& pass : out_.sweeps)
      for (const auto& plan : pass)
        for (int id : plan.reads) out_.nodes[id].persistent |= out_.nodes[id].at.pass < plan.pass;
    for (size_t id = 0; id < out_.nodes.size(); ++id) {
      auto& info = out_.nodes[id];
      if (info.node->level.kind != Level::Kind::Group) {
        info.persistent = false;
        continue;
      }
      for (int user : users[id])
        if (!out_.nodes[user].node->is_element()) info.persistent |= out_.nodes[user].at.pass > info.at.pass;
      if ((static_cast<int>(id) == out_.scale || static_cast<int>(id) == out_.zero) && out_.result == kir::ResultKind::Quantized)
        info.persistent |= info.at.pass != prepared_.schedule.output_pass;
    }
    for (size_t i = out_.nodes.size(); i-- > 0;) {
      auto& info = out_.nodes[i];
      if (!info.node->is_element()) continue;
      for (int user : users[i]) {
        int c = out_.nodes[user].node->is_element() ? out_.nodes[user].consumer : user;
        if (c >= 0 && (info.consumer < 0 || c < info.consumer)) info.consumer = c;
      }
    }
  }

  // 6. Layout::speculation: whether the output pass can run on a provisional Q, each unit
  //    then depending on Q only through whether it ranks above Q, each row value only
  //    through whether the row's top unit is kept.
  void plan_speculation() {
    if (out_.passes() != 2 || out_.finalize_after[0].size() != 1 || out_.sweeps[1].size() != 1) return;
    int q = out_.finalize_after[0][0];
    const NodeInfo& quantile = out_.nodes[q];
    if (quantile.node->kind != NodeKind::Quantile || quantile.node->grouping.kind != kir::Grouping::Kind::All ||
        !element_domain(quantile) || quantile.scratch_f64)
      return;
    const SweepPlan& output = out_.sweeps[1][0];
    if (!output.output) return;
    Speculation spec;
    for (int id : output.reductions) {
      const Node& node = *out_.nodes[id].node;
      auto op = static_cast<kir::ReduceOp>(node.op);
      bool additive = op == kir::ReduceOp::Sum || op == kir::ReduceOp::Mean || op == kir::ReduceOp::Count;
      if (node.kind != NodeKind::Reduce || !additive || out_.nodes[id].partial_slot < 0) return;
      spec.additive.push_back(id);
    }
    for (size_t id = 0; id < out_.nodes.size(); ++id) {
      const NodeInfo& info = out_.nodes[id];
      const Node& node = *info.node;
      // The gather variant runs no group chunks: group values rule it out.
      if (node.level.kind == Level::Kind::Group || node.domain.kind == Level::Kind::Group) return;
      bool reads_q = std::find(info.operands.begin(), info.operands.end(), q) != info.operands.end();
      if (reads_q && (node.kind != NodeKind::RankCmp || !node.is_element() || info.operands[0] != quantile.operands[0]))
        return;
      if (info.kept_max >= 0) {
        if (info.kept_quantile != q) return;
        spec.kept_max.push_back(static_cast<int>(id));
      }
    }
    // Row values of the output pass from its units need a sweep of their own, unless derived.
    for (const auto& stage : out_.coarse[1])
      for (int id : stage)
        if (is_reduction(*out_.nodes[id].node) && element_domain(out_.nodes[id]) && out_.nodes[id].kept_max < 0) return;
    spec.quantile = q;
    out_.speculation = std::move(spec);
    out_.sweeps[1][0].prefetch_next_row = true;
  }

  void finish_ix() {
    out_.ix.size_base = 1;
    out_.ix.offset_base = out_.ix.size_base + static_cast<int>(out_.size_nodes.size());
    out_.ix.scratch_base = out_.ix.offset_base + out_.group_slots;
    out_.ix.count = out_.ix.scratch_base + out_.scratch_count;
    out_.canonical += fmt::format("abi {}\n", kCodegenAbiVersion);
  }

  const passes::PreparedKernel& prepared_;
  Layout out_;
};

}  // namespace

bool element_domain(const NodeInfo& info) { return info.node->domain.kind == Level::Kind::Element; }

bool sweep_can_fail(const SweepPlan& plan) { return plan.has_domain_checks || plan.output; }

Layout make_layout(const passes::PreparedKernel& kernel) { return LayoutBuilder(kernel).build(); }

const SweepPlan* speculative_output(const Layout& layout) {
  return layout.speculation.quantile >= 0 ? &layout.sweeps[1][0] : nullptr;
}

std::string describe_speculation(const kir::Kernel& kernel, const Layout& layout) {
  if (layout.speculation.quantile < 0) return "";
  auto ids = kir::number_nodes(kernel);
  auto q = ids.find(layout.nodes[layout.speculation.quantile].node);
  if (q == ids.end()) return "";  // unreachable: Q is one of the kernel's nodes
  return fmt::format("  passes 1 and 2 in one read of the tensor (when %{0}'s bracket is sampled): pass 2 on the "
                     "sample's estimate of %{0}, then the units between it and %{0} fixed\n", q->second);
}

}  // namespace kmr::codegen
