// Building, printing and reading compressed-tensors' quantization_config JSON.
#include "runtime/quantization_config.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "runtime/strict_json.h"
#include "runtime/target_pattern.h"

namespace kmr::runtime {
namespace {

using Json = nlohmann::ordered_json;

Json scheme_json(const QuantScheme& s) {
  Json w = Json::object();
  w["num_bits"] = s.bits;
  w["type"] = "int";
  w["symmetric"] = s.symmetric;
  w["strategy"] = std::string(strategy_name(s.strategy));
  w["group_size"] = s.strategy == QuantStrategy::Group ? Json(s.group_size) : Json(nullptr);
  w["dynamic"] = false;
  w["actorder"] = nullptr;
  w["block_structure"] = nullptr;
  return w;
}

std::optional<QuantStrategy> parse_strategy(const std::string& name) {
  if (name == "tensor") return QuantStrategy::Tensor;
  if (name == "channel") return QuantStrategy::Channel;
  if (name == "group") return QuantStrategy::Group;
  return std::nullopt;
}

bool is_integer(const Json& j) { return j.is_number_integer() || j.is_number_unsigned(); }

kmr::Expected<std::vector<std::string>> string_list(const Json& j, const std::string& where) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return kmr::Error{where + " must be a list of strings"};
  for (const Json& item : j) {
    if (!item.is_string()) return kmr::Error{where + " must be a list of strings"};
    out.push_back(item.get<std::string>());
  }
  return out;
}

kmr::Expected<QuantScheme> parse_scheme(const Json& w, const std::string& where) {
  if (!w.is_object()) return kmr::Error{where + " must be an object or null"};
  QuantScheme s;
  auto bits = w.find("num_bits");
  if (bits == w.end() || !is_integer(*bits)) return kmr::Error{where + ".num_bits must be an integer"};
  const std::int64_t n = bits->get<std::int64_t>();
  if (n < 2 || n > 8) {
    s.unsupported = where + ".num_bits is " + std::to_string(n) + "; only 2..8-bit integer weights decode";
    s.bits = 8;
  } else {
    s.bits = static_cast<int>(n);
  }
  if (auto type = w.find("type"); type != w.end() && !type->is_null()) {
    if (!type->is_string()) return kmr::Error{where + ".type must be a string"};
    if (type->get<std::string>() != "int") {
      s.unsupported = where + ".type is \"" + type->get<std::string>() + "\"; only \"int\" weights decode";
    }
  }
  if (auto sym = w.find("symmetric"); sym != w.end() && !sym->is_null()) {
    if (!sym->is_boolean()) return kmr::Error{where + ".symmetric must be true or false"};
    s.symmetric = sym->get<bool>();
  }
  if (auto strategy = w.find("strategy"); strategy != w.end() && !strategy->is_null()) {
    if (!strategy->is_string()) return kmr::Error{where + ".strategy must be a string"};
    std::optional<QuantStrategy> parsed = parse_strategy(strategy->get<std::string>());
    if (parsed) {
      s.strategy = *parsed;
    } else if (s.unsupported.empty()) {
      s.unsupported =
          where + ".strategy \"" + strategy->get<std::string>() + "\" is not supported (tensor, channel and group are)";
    }
  }
  if (auto group = w.find("group_size"); group != w.end() && !group->is_null()) {
    if (!is_integer(*group)) return kmr::Error{where + ".group_size must be an integer or null"};
    s.group_size = group->get<std::int64_t>();
  }
  if (s.strategy == QuantStrategy::Group && s.group_size < 1 && s.unsupported.empty()) {
    s.unsupported = where + ": strategy \"group\" needs a positive group_size";
  }
  if (auto actorder = w.find("actorder"); actorder != w.end() && !actorder->is_null() && s.unsupported.empty()) {
    s.unsupported = where + ".actorder is set; activation-ordered weights (g_idx) are not supported";
  }
  return s;
}

}  // namespace

QuantizationConfig make_quantization_config(const std::vector<const QuantizedTensor*>& quantized,
                                            const std::vector<SparseTensor>& sparse) {
  QuantizationConfig config;
  std::vector<const QuantizedTensor*> by_name = quantized;
  std::sort(by_name.begin(), by_name.end(),
            [](const QuantizedTensor* a, const QuantizedTensor* b) { return a->name < b->name; });
  // A group's format says how all of its targets are stored, so modules of one scheme
  // stored both with every code and sparse-quantized form two groups.
  using Key = std::tuple<int, QuantStrategy, std::int64_t, bool, Encoding>;
  std::map<Key, std::size_t> group_of;
  for (const QuantizedTensor* q : by_name) {
    const std::int64_t group_size = q->strategy == QuantStrategy::Group ? q->group_size : 0;
    const Encoding encoding = stored_encoding(*q);
    const Key key{q->bits, q->strategy, group_size, q->symmetric, encoding};
    auto [it, inserted] = group_of.emplace(key, config.groups.size());
    if (inserted) {
      QuantConfigGroup group;
      group.name = "group_" + std::to_string(config.groups.size());
      group.weights = QuantScheme{q->bits, q->strategy, group_size, q->symmetric, ""};
      group.format = std::string(encoding_name(encoding));
      config.groups.push_back(std::move(group));
    }
    // by_name is sorted, so each group's targets are too.
    config.groups[it->second].targets.push_back(module_of_weight(q->name));
  }
  config.format = "dense";
  for (const QuantConfigGroup& g : config.groups) {
    if (config.format == "dense") {
      config.format = g.format;
    } else if (config.format != g.format) {
      config.format = "mixed-precision";
    }
  }
  if (!sparse.empty()) {
    SparsityConfig s;
    double elements = 0, stored = 0;
    for (const SparseTensor& t : sparse) {
      s.targets.push_back(module_of_weight(t.name));
      const MatrixDims dims = matrix_dims(t.shape);
      elements += static_cast<double>(dims.rows) * static_cast<double>(dims.cols);
      stored += static_cast<double>(t.values.size());
    }
    std::sort(s.targets.begin(), s.targets.end());
    s.global_sparsity = elements > 0 ? 1.0 - stored / elements : 0.0;
    config.sparsity = std::move(s);
  }
  return config;
}

std::string quantization_config_json(const QuantizationConfig& config) {
  Json j = Json::object();
  j["quant_method"] = "compressed-tensors";
  j["format"] = config.format;
  j["quantization_status"] = "compressed";
  Json groups = Json::object();
  for (const QuantConfigGroup& g : config.groups) {
    Json group = Json::object();
    group["targets"] = g.targets;
    group["weights"] = g.weights ? scheme_json(*g.weights) : Json(nullptr);
    group["input_activations"] = nullptr;
    group["output_activations"] = nullptr;
    group["format"] = g.format;
    groups[g.name] = std::move(group);
  }
  j["config_groups"] = std::move(groups);
  j["ignore"] = config.ignore;
  j["kv_cache_scheme"] = nullptr;
  if (config.sparsity) {
    Json s = Json::object();
    s["format"] = config.sparsity->format;
    s["targets"] = config.sparsity->targets;
    s["ignore"] = Json::array();
    s["global_sparsity"] = config.sparsity->global_sparsity;
    s["sparsity_structure"] = "unstructured";
    j["sparsity_config"] = std::move(s);
  } else {
    j["sparsity_config"] = nullptr;
  }
  // Invalid UTF-8 in a name becomes U+FFFD rather than an exception (callers that must
  // refuse such names check them first).
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

kmr::Expected<QuantizationConfig> parse_quantization_config(std::string_view json, const std::string& label) {
  kmr::Expected<Json> parsed = parse_json_strict(json, label + ": quantization_config");
  if (!parsed) return parsed.error();
  const Json& j = *parsed;
  const std::string where = label + ": quantization_config";
  if (!j.is_object()) return kmr::Error{where + " must be a JSON object"};
  QuantizationConfig config;
  if (auto format = j.find("format"); format != j.end() && !format->is_null()) {
    if (!format->is_string()) return kmr::Error{where + ".format must be a string"};
    config.format = format->get<std::string>();
  }
  if (auto groups = j.find("config_groups"); groups != j.end() && !groups->is_null()) {
    if (!groups->is_object()) return kmr::Error{where + ".config_groups must be an object"};
    for (auto it = groups->begin(); it != groups->end(); ++it) {
      const std::string at = where + ".config_groups." + it.key();
      if (!it.value().is_object()) return kmr::Error{at + " must be an object"};
      QuantConfigGroup group;
      group.name = it.key();
      if (auto targets = it.value().find("targets"); targets != it.value().end()) {
        kmr::Expected<std::vector<std::string>> list = string_list(*targets, at + ".targets");
        if (!list) return list.error();
        group.targets = std::move(*list);
      }
      if (auto weights = it.value().find("weights"); weights != it.value().end() && !weights->is_null()) {
        kmr::Expected<QuantScheme> scheme = parse_scheme(*weights, at + ".weights");
        if (!scheme) return scheme.error();
        group.weights = std::move(*scheme);
      }
      group.format = config.format;
      if (auto format = it.value().find("format"); format != it.value().end() && !format->is_null()) {
        if (!format->is_string()) return kmr::Error{at + ".format must be a string"};
        group.format = format->get<std::string>();
      }
      config.groups.push_back(std::move(group));
    }
  }
  if (auto ignore = j.find("ignore"); ignore != j.end()) {
    kmr::Expected<std::vector<std::string>> list = string_list(*ignore, where + ".ignore");
    if (!list) return list.error();
    config.ignore = std::move(*list);
  }
  if (auto sparsity = j.find("sparsity_config"); sparsity != j.end() && !sparsity->is_null()) {
    const std::string at = where + ".sparsity_config";
    if (!sparsity->is_object()) return kmr::Error{at + " must be an object or null"};
    SparsityConfig s;
    if (auto format = sparsity->find("format"); format != sparsity->end()) {
      if (!format->is_string()) return kmr::Error{at + ".format must be a string"};
      s.format = format->get<std::string>();
    }
    if (auto targets = sparsity->find("targets"); targets != sparsity->end()) {
      kmr::Expected<std::vector<std::string>> list = string_list(*targets, at + ".targets");
      if (!list) return list.error();
      s.targets = std::move(*list);
    }
    if (auto global = sparsity->find("global_sparsity"); global != sparsity->end() && global->is_number()) {
      s.global_sparsity = global->get<double>();
    }
    config.sparsity = std::move(s);
  }
  return config;
}

SchemeMatch scheme_for_module(const QuantizationConfig& config, const std::string& module) {
  for (const QuantConfigGroup& g : config.groups) {
    if (!g.weights) continue;
    if (std::find(g.targets.begin(), g.targets.end(), module) != g.targets.end()) {
      return {&*g.weights, &g, true};
    }
  }
  for (const QuantConfigGroup& g : config.groups) {
    if (!g.weights) continue;
    for (const std::string& target : g.targets) {
      if (target.rfind("re:", 0) == 0 && target_pattern_matches(std::string_view(target).substr(3), module))
        return {&*g.weights, &g, true};
    }
  }
  for (const std::string& ignored : config.ignore) {
    if (ignored == module) return {};
    if (ignored.rfind("re:", 0) == 0 && target_pattern_matches(std::string_view(ignored).substr(3), module)) return {};
  }
  const QuantConfigGroup* only = nullptr;
  for (const QuantConfigGroup& g : config.groups) {
    if (!g.weights) continue;
    if (only != nullptr) return {};
    only = &g;
  }
  if (only == nullptr) return {};
  return {&*only->weights, only, false};
}

}  // namespace kmr::runtime
