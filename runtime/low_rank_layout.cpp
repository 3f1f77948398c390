// Pairing the quantized modules p.weight_u and p.weight_v into the low-rank p.weight.
#include "runtime/low_rank_layout.h"

#include <map>
#include <optional>
#include <string_view>

namespace kmr::runtime {
namespace {

constexpr std::string_view kU = ".weight_u.weight";
constexpr std::string_view kV = ".weight_v.weight";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

kmr::Status pair_quantized_factors(std::vector<LogicalTensor>& tensors, const std::string& label) {
  struct Pair {
    std::optional<LogicalTensor> u, v;
  };
  std::map<std::string, Pair> pairs;  // by module p
  std::vector<LogicalTensor> kept;
  for (LogicalTensor& t : tensors) {
    const bool u = ends_with(t.name, kU), v = ends_with(t.name, kV);
    if (!is_quantized(t.encoding) || (!u && !v)) {
      kept.push_back(std::move(t));
      continue;
    }
    const std::string module = t.name.substr(0, t.name.size() - kU.size());
    (u ? pairs[module].u : pairs[module].v) = std::move(t);
  }
  for (auto& [module, pair] : pairs) {
    if (!pair.u || !pair.v) {
      const std::string have = module + (pair.u ? ".weight_u" : ".weight_v");
      const std::string missing = module + (pair.u ? ".weight_v" : ".weight_u");
      return kmr::Error{label + ": quantized low-rank factor '" + have + "' needs its partner '" + missing +
                        "' quantized beside it, which is missing"};
    }
    LogicalTensor low_rank;
    low_rank.name = module + ".weight";
    low_rank.encoding = Encoding::LowRank;
    low_rank.factors.push_back(std::move(*pair.u));
    low_rank.factors.push_back(std::move(*pair.v));
    kept.push_back(std::move(low_rank));
  }
  tensors = std::move(kept);
  return kmr::Status::success();
}

}  // namespace kmr::runtime
