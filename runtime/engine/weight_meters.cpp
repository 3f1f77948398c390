// Weight-only meters, computed in f64 in tensor order so results do not depend on threads.
#include "runtime/engine/weight_meters.h"

#include <cmath>

#include <fmt/format.h>

namespace kmr::engine {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Parameters as stored: a low-rank weight is its two factors.
int64_t stored_params(const TensorResult& tensor) {
  if (tensor.low_rank) return tensor.low_rank->rank * (tensor.low_rank->rows + tensor.low_rank->cols);
  return tensor.numel;
}

}  // namespace

uint64_t encoded_size(const MaterializedModel& model) {
  uint64_t total = 0;
  for (const auto& tensor : model.tensors) total += tensor.encoded_bytes;
  return total;
}

int64_t param_count(const MaterializedModel& model) {
  int64_t total = 0;
  for (const auto& tensor : model.tensors) total += stored_params(tensor);
  return total;
}

int64_t nonzero_count(const MaterializedModel& model) {
  int64_t total = 0;
  for (const auto& tensor : model.tensors) total += tensor.values ? tensor.nonzeros : stored_params(tensor);
  return total;
}

double sparsity(const MaterializedModel& model) {
  int64_t params = param_count(model);
  return params == 0 ? 0.0 : 1.0 - static_cast<double>(nonzero_count(model)) / static_cast<double>(params);
}

double forward_flops(const MaterializedModel& model) {
  double flops = 0;
  for (const auto& tensor : model.tensors) {
    if (ends_with(tensor.name, ".weight")) flops += 2.0 * static_cast<double>(tensor.nonzeros);
    if (ends_with(tensor.name, ".bias")) flops += static_cast<double>(tensor.numel);
  }
  return flops;
}

Expected<double> relative_error(const MaterializedModel& model, const MaterializedModel& reference) {
  double difference = 0, norm = 0;
  for (const auto& ref : reference.tensors) {
    const TensorResult* tensor = model.find(ref.name);
    if (tensor == nullptr || !tensor->values || !ref.values) continue;
    if (tensor->shape != ref.shape)
      return Error{fmt::format("tensor '{}' has different shapes in the two models", ref.name)};
    const auto& a = *tensor->values;
    const auto& b = *ref.values;
    for (size_t i = 0; i < b.size(); ++i) {
      double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      difference += d * d;
      norm += static_cast<double>(b[i]) * static_cast<double>(b[i]);
    }
  }
  if (norm == 0) return difference == 0 ? 0.0 : INFINITY;
  return std::sqrt(difference / norm);
}

}  // namespace kmr::engine
