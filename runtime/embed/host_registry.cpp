// Registration of host meters, rules and data: validated once here, so that the checker
// and the engine can trust what they receive, and wrapped so that a callable's failure or
// exception becomes an error naming it.
#include "runtime/embed/host_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>

namespace kmr::embed {
namespace {

sema::Type to_sema(Type type) {
  switch (type) {
    case Type::Int:
      return sema::Type::Int;
    case Type::Float:
      return sema::Type::Float;
    case Type::Ratio:
      return sema::Type::Ratio;
    case Type::Bool:
      return sema::Type::Bool;
    case Type::Bytes:
      return sema::Type::Bytes;
    case Type::Flops:
      return sema::Type::Flops;
    case Type::Duration:
      return sema::Type::Duration;
    case Type::Model:
      return sema::Type::Model;
    case Type::Data:
      return sema::Type::Data;
  }
  return sema::Type::Error;
}

Failure invalid(std::string message) { return Failure{FailureKind::invalid_argument, std::move(message), {}}; }

// Parameters are distinct identifiers of the types `allowed` accepts (described as `kinds`).
Result<void> check_params(const std::string& what, const std::vector<Param>& params, bool (*allowed)(sema::Type),
                          const char* kinds, const std::set<std::string>& reserved) {
  std::set<std::string> seen = reserved;
  for (const auto& param : params) {
    if (!is_identifier(param.name))
      return invalid(fmt::format("{}: parameter name '{}' is not a name (letters, digits, _)", what, param.name));
    if (!seen.insert(param.name).second)
      return invalid(fmt::format("{}: parameter '{}' is given twice or is reserved", what, param.name));
    if (!allowed(to_sema(param.type)))
      return invalid(fmt::format("{}: parameter '{}' is {}, but parameters are {}", what, param.name,
                                 sema::type_name(to_sema(param.type)), kinds));
  }
  return {};
}

bool meter_param_type(sema::Type type) {
  return type == sema::Type::Model || type == sema::Type::Data || sema::is_numeric(type);
}
bool rule_param_type(sema::Type type) { return type == sema::Type::Bool || sema::is_dimensionless(type); }

Encoding encoding_of(engine::Encoding encoding) {
  switch (encoding) {
    case engine::Encoding::Sparse:
      return Encoding::Sparse;
    case engine::Encoding::Quantized:
      return Encoding::Quantized;
    case engine::Encoding::LowRank:
      return Encoding::LowRank;
    case engine::Encoding::Dense:
      break;
  }
  return Encoding::Dense;
}

ModelView view_of(const engine::MaterializedModel& model) {
  ModelView view;
  view.tensors.reserve(model.tensors.size());
  for (const auto& tensor : model.tensors)
    view.tensors.push_back(TensorView{tensor.name, tensor.shape, encoding_of(tensor.encoding),
                                      tensor.values ? tensor.values->data() : nullptr, tensor.numel, tensor.nonzeros,
                                      tensor.encoded_bytes});
  return view;
}

DataView view_of(const runtime::Dataset& data) {
  return DataView{data.count, data.features, data.num_classes, data.inputs.data(), data.labels.data()};
}

// Runs `call` (returning a Result<T>) under the callables' lock; its failure or exception
// becomes an Error that names `what`, so the engine reports which host function broke.
template <class T, class Call>
Expected<T> call_guarded(const std::string& what, std::mutex& calls, const Call& call) {
  std::lock_guard<std::mutex> lock(calls);
  try {
    Result<T> result = call();
    if (!result) return Error{fmt::format("{} failed: {}", what, result.error().message)};
    return std::move(result).value();
  } catch (const std::exception& e) {
    return Error{fmt::format("{} threw an exception: {}", what, e.what())};
  } catch (...) {
    return Error{fmt::format("{} threw an exception", what)};
  }
}

}  // namespace

bool is_identifier(const std::string& name) {
  auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  return !name.empty() && letter(name[0]) && std::all_of(name.begin(), name.end(), [&](char c) {
    return letter(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

Result<void> HostRegistry::claim_name(const std::string& name, const char* what) {
  if (!is_identifier(name)) return invalid(fmt::format("{} name '{}' is not a name (letters, digits, _)", what, name));
  if (!names_.insert(name).second) return invalid(fmt::format("'{}' is already registered as a meter or rule", name));
  return {};
}

Result<void> HostRegistry::add_meter(const std::string& name, std::vector<Param> params, Type result,
                                     MeterFunction function) {
  std::string what = fmt::format("host meter '{}'", name);
  if (!function) return invalid(what + ": no function given");
  if (!sema::is_numeric(to_sema(result)))
    return invalid(fmt::format("{}: a meter's result is a number (Int, Float, Ratio, Bytes, Flops or Duration), not {}",
                               what, sema::type_name(to_sema(result))));
  if (auto checked = check_params(what, params, meter_param_type, "models, data sets or numbers", {}); !checked)
    return checked;
  if (auto claimed = claim_name(name, "meter"); !claimed) return claimed;
  sema::Builtin signature{name, sema::BuiltinKind::Meter, {}, to_sema(result)};
  for (const auto& param : params) signature.params.push_back({param.name, to_sema(param.type), true});
  meters_.push_back(std::move(signature));
  extensions_.meters[name] = [what, function = std::move(function),
                              &calls = *calls_](const engine::HostMeterCall& call) -> Expected<double> {
    auto value = call_guarded<double>(what, calls, [&]() -> Result<double> {
      MeterCall views;
      for (const auto* model : call.models) views.models.push_back(view_of(*model));
      for (const auto* data : call.data) views.data.push_back(view_of(*data));
      views.numbers = call.numbers;
      return function(views);
    });
    if (value && !std::isfinite(*value)) return Error{fmt::format("{} returned {}, not a finite number", what, *value)};
    return value;
  };
  return {};
}

Result<void> HostRegistry::add_rule(const std::string& name, std::vector<Param> params, RuleFunction function) {
  std::string what = fmt::format("host rule '{}'", name);
  if (!function) return invalid(what + ": no function given");
  // `w` is the tensor parameter every generated declaration starts with.
  if (auto checked = check_params(what, params, rule_param_type, "Int, Float, Ratio or Bool", {"w"}); !checked)
    return checked;
  if (auto claimed = claim_name(name, "rule"); !claimed) return claimed;
  std::string declared;
  for (const auto& param : params)
    declared += fmt::format(", {}: {}", param.name, sema::type_name(to_sema(param.type)));
  module_ += fmt::format("native kernel {}(w: tensor{}) -> tensor;\n", name, declared);
  extensions_.tensor_rules[name] = [what, function = std::move(function), &calls = *calls_](
                                       const engine::HostTensorRuleCall& call) -> Expected<std::vector<float>> {
    auto values = call_guarded<std::vector<float>>(what, calls, [&] {
      return function(RuleCall{call.tensor, call.shape, call.values, call.args});
    });
    if (values && values->size() != call.values.size())
      return Error{fmt::format("{} returned {} values for tensor '{}' of {}", what, values->size(), call.tensor,
                               call.values.size())};
    return values;
  };
  return {};
}

Result<void> HostRegistry::bind_data(const std::string& name, std::vector<float> images, int64_t features,
                                     std::vector<int32_t> labels) {
  if (!is_identifier(name)) return invalid(fmt::format("data set name '{}' is not a name (letters, digits, _)", name));
  std::string what = fmt::format("data set '{}'", name);
  if (features <= 0 || labels.empty())
    return invalid(fmt::format("{}: needs at least one example of at least one feature", what));
  if (images.size() / static_cast<uint64_t>(features) != labels.size() ||
      images.size() % static_cast<uint64_t>(features) != 0)
    return invalid(fmt::format("{}: {} image values are not {} rows of {} features", what, images.size(), labels.size(),
                               features));
  auto lowest = std::min_element(labels.begin(), labels.end());
  if (*lowest < 0) return invalid(fmt::format("{}: label {} is negative", what, *lowest));
  runtime::Dataset data;
  data.count = static_cast<int64_t>(labels.size());
  data.features = features;
  data.num_classes = int64_t{*std::max_element(labels.begin(), labels.end())} + 1;
  data.inputs = std::move(images);
  data.labels = std::move(labels);
  extensions_.data[name] = std::move(data);
  return {};
}

std::set<std::string> HostRegistry::bound_data() const {
  std::set<std::string> names;
  for (const auto& entry : extensions_.data) names.insert(entry.first);
  return names;
}

}  // namespace kmr::embed
