// Enumerates knob domains from their declarations' constant expressions.
#include "runtime/engine/knob_space.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "compiler/sema/resource_probe.h"

namespace kmr::engine {
namespace {

double constant_number(const ast::Expr& expr) {
  auto value = sema::evaluate_constant(expr);
  if (!value) return 0;  // the checker proved domains constant; unreachable for checked programs
  return value->type == sema::Type::Bool ? (value->boolean ? 1.0 : 0.0) : value->number;
}

Expected<std::vector<double>> domain_values(const ast::KnobDecl& knob, sema::Type type) {
  const ast::Domain& domain = knob.domain;
  std::vector<double> values;
  switch (domain.kind) {
    case ast::Domain::Kind::None: return std::vector<double>{0.0, 1.0};  // bool
    case ast::Domain::Kind::Set:
      for (const auto& value : domain.values) values.push_back(constant_number(*value));
      return values;
    case ast::Domain::Kind::Range: break;
  }
  double lo = constant_number(*domain.lo), hi = constant_number(*domain.hi);
  double step = domain.step ? constant_number(*domain.step) : type == sema::Type::Int ? 1.0 : 0.0;
  if (step <= 0)
    return Error{fmt::format("knob '{}': a {} range needs a step to be searched", knob.name, sema::type_name(type))};
  double count = std::round((hi - lo) / step) + 1;
  if (count > static_cast<double>(kMaxDomainValues))
    return Error{fmt::format("knob '{}' has {:.0f} values; the most a knob may have is {}", knob.name, count,
                             kMaxDomainValues)};
  // lo + i * step, not repeated addition: 0.1 + 0.1 + 0.1 drifts, 3 * 0.1 is the nearest.
  for (size_t i = 0; i < static_cast<size_t>(count); ++i) values.push_back(lo + static_cast<double>(i) * step);
  values.back() = hi;
  return values;
}

size_t index_of(const std::vector<double>& values, double value) {
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (std::fabs(values[i] - value) < std::fabs(values[best] - value)) best = i;
  return best;
}

// The tensors of a knob family: its `m.match("glob")` over the model the check opened.
std::vector<std::string> family_tensors(const sema::CheckedProgram& program, const ast::KnobDecl& knob) {
  std::vector<std::string> out;
  const auto* call = knob.index_selection->as<ast::CallExpr>();
  const auto* member = call ? call->callee->as<ast::MemberExpr>() : nullptr;
  const auto* model = member ? member->object->as<ast::NameExpr>() : nullptr;
  auto glob = call && !call->args.empty() ? sema::evaluate_constant(*call->args[0].value) : std::nullopt;
  auto facts = model ? program.models.find(model->name) : program.models.end();
  if (!glob || facts == program.models.end()) return out;
  for (const auto& tensor : facts->second.tensors)
    if (sema::glob_matches(glob->text, tensor)) out.push_back(tensor);
  return out;
}

}  // namespace

std::string KnobSlot::label() const { return tensor.empty() ? knob : fmt::format("{}[{}]", knob, tensor); }

Configuration KnobSpace::defaults() const {
  Configuration out;
  for (const auto& slot : slots) out.push_back(slot.default_index);
  return out;
}

int KnobSpace::find(const std::string& knob, const std::string& tensor) const {
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i].knob == knob && slots[i].tensor == tensor) return static_cast<int>(i);
  return -1;
}

size_t KnobSpace::size() const {
  size_t total = 1;
  for (const auto& slot : slots) {
    if (total > std::numeric_limits<size_t>::max() / slot.values.size()) return std::numeric_limits<size_t>::max();
    total *= slot.values.size();
  }
  return total;
}

Expected<KnobSpace> build_knob_space(const sema::CheckedProgram& program) {
  KnobSpace space;
  // Declaration order, so reports and searches read like the script.
  std::vector<const sema::Symbol*> knobs;
  for (const auto& [name, symbol] : program.symbols)
    if (symbol.kind == sema::SymbolKind::Knob) knobs.push_back(&symbol);
  std::sort(knobs.begin(), knobs.end(), [](const sema::Symbol* a, const sema::Symbol* b) {
    const auto &sa = a->decl->span, &sb = b->decl->span;
    return std::tie(sa.file, sa.line, sa.col) < std::tie(sb.file, sb.line, sb.col);
  });
  for (const sema::Symbol* symbol : knobs) {
    const auto& knob = static_cast<const ast::KnobDecl&>(*symbol->decl);
    auto values = domain_values(knob, symbol->type);
    if (!values) return values.error();
    double initial = knob.default_value ? constant_number(*knob.default_value) : values->front();
    KnobSlot slot{knob.name, "", symbol->type, *values, index_of(*values, initial)};
    if (!knob.index_selection) {
      space.slots.push_back(std::move(slot));
      continue;
    }
    for (const auto& tensor : family_tensors(program, knob)) {
      slot.tensor = tensor;
      space.slots.push_back(slot);
    }
  }
  return space;
}

}  // namespace kmr::engine
