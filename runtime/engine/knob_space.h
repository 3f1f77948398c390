// The search space of a policy: every knob's values in order, knob families expanded to one
// slot per tensor they index, and configurations as one value index per slot.
#pragma once

#include <string>
#include <vector>

#include "compiler/sema/checker.h"
#include "support/expected.h"

namespace kmr::engine {

/// One independently settable knob value: a scalar knob, or one tensor's member of a knob
/// family.
struct KnobSlot {
  std::string knob;    // the knob's name
  std::string tensor;  // the tensor a family member belongs to; empty for a scalar knob
  sema::Type type = sema::Type::Float;
  std::vector<double> values;  // the domain in order: ascending for ranges, as listed for sets
  size_t default_index = 0;

  /// `bits` or `bits[fc1.weight]`, for reports and messages.
  std::string label() const;
};

/// A configuration: the index into each slot's values, slot by slot.
using Configuration = std::vector<size_t>;

struct KnobSpace {
  std::vector<KnobSlot> slots;

  Configuration defaults() const;
  /// The slot of scalar knob `knob`, or of family `knob`'s member for `tensor`; -1 if none.
  int find(const std::string& knob, const std::string& tensor = "") const;
  /// The number of configurations, saturating at SIZE_MAX.
  size_t size() const;
};

/// The largest domain a knob may have: searching more values is not a policy, it is a bug.
constexpr size_t kMaxDomainValues = 100000;

/// Builds the space of a program checked without errors. Families are expanded over the
/// tensors their selection matches, in the model's tensor order (`program.models` must
/// hold the model, i.e. the check opened it). Fails for a range with more than
/// kMaxDomainValues values or a float range without a step (it has no values to try).
Expected<KnobSpace> build_knob_space(const sema::CheckedProgram& program);

}  // namespace kmr::engine
