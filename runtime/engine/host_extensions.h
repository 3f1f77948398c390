// What an embedding application adds to a run (include/kmr/kmr.h builds these): meters and
// tensor rules written in C++, and data sets bound by the host instead of the script's
// sources. The checker learns their signatures (and bound model paths) separately; this is
// the runtime half.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/dataset.h"
#include "runtime/engine/pipeline_runner.h"
#include "support/expected.h"

namespace kmr::engine {

/// A host meter's arguments for one trial, in the order of its signature: models
/// materialised for the trial's configuration, data sets loaded (or bound), numbers.
struct HostMeterCall {
  std::vector<const MaterializedModel*> models;
  std::vector<const runtime::Dataset*> data;
  std::vector<double> numbers;
};
using HostMeter = std::function<Expected<double>(const HostMeterCall&)>;

/// A host tensor rule (declared to the language as `native kernel f(w: tensor, ...) ->
/// tensor`), called once per selected tensor and distinct argument values: the tensor as
/// the previous step left it (decoded, row-major) and the numeric arguments after `w`.
struct HostTensorRuleCall {
  const std::string& tensor;
  const std::vector<int64_t>& shape;
  const std::vector<float>& values;
  const std::vector<double>& args;
};
/// Returns the new values: the same element count, row-major.
using HostTensorRule = std::function<Expected<std::vector<float>>(const HostTensorRuleCall&)>;

struct HostExtensions {
  std::map<std::string, HostMeter> meters;             // by the meter's name in scripts
  std::map<std::string, HostTensorRule> tensor_rules;  // by the native kernel's name
  std::map<std::string, runtime::Dataset> data;        // data set name -> bound data (its source is not read)
};

}  // namespace kmr::engine
