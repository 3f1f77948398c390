// Recognising compressed groups among stored tensors by their names.
#include "runtime/compressed_grouping.h"

#include <algorithm>
#include <set>

#include "runtime/low_rank_layout.h"

namespace kmr::runtime {
namespace {

// The last name components the layout gives meaning to.
const std::set<std::string, std::less<>> kRoles = {
    "weight",     "weight_packed", "weight_scale", "weight_zero_point", "weight_shape", "weight_g_idx", "bitmask",
    "compressed", "row_offsets",   "shape",        "weight_u",          "weight_v",
};

using Roles = std::map<std::string, const TensorInfo*>;

std::string quote(const std::string& module, const std::string& role) { return "'" + module + "." + role + "'"; }

// Groups the roles of one module, appending its logical tensors to `out`.
class ModuleGrouper {
 public:
  ModuleGrouper(std::string module, Roles roles, const std::optional<QuantizationConfig>& config,
                const std::string& label)
      : m_(std::move(module)), roles_(std::move(roles)), config_(config), label_(label) {}

  kmr::Status run(std::vector<LogicalTensor>& out) {
    SchemeMatch match = config_ ? scheme_for_module(*config_, m_) : SchemeMatch{};
    std::vector<LogicalTensor> claims;
    if (has("weight_packed")) {
      const Encoding encoding = has("bitmask") ? Encoding::SparseQuantized : Encoding::PackQuantized;
      if (auto s = quantized_group(encoding, "weight_packed", match, claims); !s) return s;
    } else if (has("weight") && roles_.at("weight")->dtype == DType::I8 && has("weight_scale")) {
      if (auto s = quantized_group(Encoding::IntQuantized, "weight", match, claims); !s) return s;
    } else if (match.by_name && has("weight") && !has("bitmask") && !has("weight_u")) {
      return error("quantization_config quantizes module '" + m_ + "', but " + quote(m_, "weight") + " is " +
                   std::string(dtype_name(roles_.at("weight")->dtype)) + " without " + quote(m_, "weight_scale"));
    }
    if (has("bitmask")) {
      LogicalTensor t = start(Encoding::SparseBitmask);
      for (const char* role : {"compressed", "row_offsets", "shape"}) {
        if (auto s = need("bitmask", role); !s) return s;
      }
      for (const char* role : {"bitmask", "compressed", "row_offsets", "shape"}) take(t, role);
      claims.push_back(std::move(t));
    } else {
      for (const char* role : {"compressed", "row_offsets"}) {
        if (has(role)) return need(role, "bitmask");
      }
    }
    if (has("weight_u") || has("weight_v")) {
      if (auto s = need(has("weight_u") ? "weight_u" : "weight_v", has("weight_u") ? "weight_v" : "weight_u"); !s) {
        return s;
      }
      LogicalTensor t = start(Encoding::LowRank);
      take(t, "weight_u");
      take(t, "weight_v");
      claims.push_back(std::move(t));
    }
    if (claims.size() > 1 || (!claims.empty() && has("weight"))) {
      std::string what = has("weight") ? quote(m_, "weight") + " as stored" : std::string("");
      for (const LogicalTensor& c : claims) {
        what += (what.empty() ? "" : " and ") + std::string(encoding_name(c.encoding));
      }
      return error("module '" + m_ + "' stores its weight twice: " + what);
    }
    for (const char* role : {"weight_scale", "weight_zero_point"}) {
      if (has(role) && !has("weight")) {
        return error("tensor " + quote(m_, role) + " has no " + quote(m_, "weight_packed") + " or I8 " +
                     quote(m_, "weight") + " to belong to");
      }
    }
    if (has("weight_shape")) {
      return error("tensor " + quote(m_, "weight_shape") + " has no " + quote(m_, "weight_packed") + " to describe");
    }
    if (has("weight_g_idx")) return unsupported_g_idx();
    for (LogicalTensor& c : claims) out.push_back(std::move(c));
    for (const auto& [role, info] : roles_) {
      LogicalTensor t;
      t.name = info->name;
      t.parts.emplace("", *info);
      out.push_back(std::move(t));
    }
    return kmr::Status::success();
  }

 private:
  bool has(const std::string& role) const { return roles_.count(role) > 0; }

  kmr::Error error(const std::string& what) const { return kmr::Error{label_ + ": " + what}; }

  kmr::Status need(const std::string& by, const std::string& role) const {
    if (has(role)) return kmr::Status::success();
    return error("tensor " + quote(m_, by) + " needs companion " + quote(m_, role) + ", which is missing");
  }

  kmr::Status unsupported_g_idx() const {
    return error("tensor " + quote(m_, "weight_g_idx") + ": activation-ordered quantization (g_idx) is not supported");
  }

  LogicalTensor start(Encoding encoding) const {
    LogicalTensor t;
    t.name = m_ + ".weight";
    t.encoding = encoding;
    return t;
  }

  void take(LogicalTensor& t, const std::string& role) {
    auto it = roles_.find(role);
    if (it == roles_.end()) return;
    t.parts.emplace(role, *it->second);
    roles_.erase(it);
  }

  kmr::Status quantized_group(Encoding encoding, const std::string& codes_role, const SchemeMatch& match,
                              std::vector<LogicalTensor>& claims) {
    const bool packed = encoding != Encoding::IntQuantized;
    if (packed && has("weight")) {
      return error("module '" + m_ + "' stores its weight twice: " + quote(m_, "weight") + " and " +
                   quote(m_, "weight_packed"));
    }
    if (encoding == Encoding::SparseQuantized) {
      for (const char* role : {"compressed", "row_offsets"}) {
        if (has(role)) {
          return error("module '" + m_ + "' stores its weight twice: " + quote(m_, "bitmask") + " with " +
                       quote(m_, "weight_packed") + " is sparse-quantized, and " + quote(m_, role) +
                       " belongs to sparse-bitmask");
        }
      }
    }
    if (auto s = need(codes_role, "weight_scale"); !s) return s;
    if (packed) {
      if (auto s = need(codes_role, "weight_shape"); !s) return s;
    }
    if (has("weight_g_idx")) return unsupported_g_idx();
    LogicalTensor t = start(encoding);
    if (config_ || packed) {
      if (!config_) {
        return error("tensor " + quote(m_, codes_role) +
                     ": the metadata has no quantization_config, so the bit width of its codes is unknown");
      }
      if (match.scheme == nullptr) {
        return error("tensor " + quote(m_, codes_role) + ": quantization_config has no config group for module '" + m_ +
                     "'");
      }
      if (!match.scheme->unsupported.empty()) {
        return error("tensor " + quote(m_, codes_role) + ": " + match.scheme->unsupported);
      }
      t.scheme = *match.scheme;
      if (!match.scheme->symmetric) {
        if (auto s = need(codes_role, "weight_zero_point"); !s) return s;
      }
    }
    take(t, codes_role);
    if (encoding == Encoding::SparseQuantized) take(t, "bitmask");
    take(t, "weight_scale");
    if (packed) take(t, "weight_shape");
    take(t, "weight_zero_point");
    claims.push_back(std::move(t));
    return kmr::Status::success();
  }

  std::string m_;
  Roles roles_;
  const std::optional<QuantizationConfig>& config_;
  const std::string& label_;
};

}  // namespace

const TensorInfo* LogicalTensor::part(std::string_view role) const {
  auto it = parts.find(std::string(role));
  return it == parts.end() ? nullptr : &it->second;
}

std::vector<TensorInfo> LogicalTensor::stored_parts() const {
  std::vector<TensorInfo> out;
  for (const auto& [role, info] : parts) out.push_back(info);
  for (const LogicalTensor& factor : factors)
    for (const TensorInfo& info : factor.stored_parts()) out.push_back(info);
  return out;
}

std::uint64_t LogicalTensor::stored_bytes() const {
  std::uint64_t total = 0;
  for (const TensorInfo& info : stored_parts()) total += info.end - info.begin;
  return total;
}

kmr::Expected<std::vector<LogicalTensor>> group_stored_tensors(const std::vector<TensorInfo>& tensors,
                                                               const std::optional<QuantizationConfig>& config,
                                                               const std::string& label) {
  std::map<std::string, Roles> modules;
  std::vector<LogicalTensor> out;
  for (const TensorInfo& t : tensors) {
    const std::size_t dot = t.name.rfind('.');
    if (dot != std::string::npos && dot > 0 && kRoles.count(std::string_view(t.name).substr(dot + 1)) > 0) {
      modules[t.name.substr(0, dot)].emplace(t.name.substr(dot + 1), &t);
      continue;
    }
    LogicalTensor dense;
    dense.name = t.name;
    dense.parts.emplace("", t);
    out.push_back(std::move(dense));
  }
  for (auto& [module, roles] : modules) {
    kmr::Status grouped = ModuleGrouper(module, std::move(roles), config, label).run(out);
    if (!grouped) return grouped.error();
  }
  if (kmr::Status paired = pair_quantized_factors(out, label); !paired) return paired.error();
  std::sort(out.begin(), out.end(), [](const LogicalTensor& a, const LogicalTensor& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) return kmr::Error{label + ": two stored forms of tensor '" + out[i].name + "'"};
  }
  return out;
}

}  // namespace kmr::runtime
