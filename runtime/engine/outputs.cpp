// Saving compressed models and writing reports.
#include "runtime/engine/outputs.h"

#include <cstring>

#include <fmt/format.h>

#include "runtime/atomic_file.h"
#include "runtime/float_codec.h"
#include "runtime/sparse_tensor.h"

namespace kmr::engine {
namespace {

// The stored bytes of a dense float tensor in its original dtype. The values came from
// that dtype (or are rule outputs stored as F32), so converting back is exact.
std::vector<uint8_t> dense_bytes(const TensorResult& tensor, runtime::DType& dtype) {
  const std::vector<float>& values = *tensor.values;
  std::vector<uint8_t> bytes;
  if (!tensor.transformed && (dtype == runtime::DType::F16 || dtype == runtime::DType::BF16)) {
    bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t half = dtype == runtime::DType::F16 ? runtime::f32_to_f16(values[i]) : runtime::f32_to_bf16(values[i]);
      std::memcpy(&bytes[i * 2], &half, 2);
    }
    return bytes;
  }
  if (!tensor.transformed && dtype == runtime::DType::F64) {
    bytes.resize(values.size() * 8);
    for (size_t i = 0; i < values.size(); ++i) {
      double wide = values[i];
      std::memcpy(&bytes[i * 8], &wide, 8);
    }
    return bytes;
  }
  dtype = runtime::DType::F32;
  bytes.resize(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

nlohmann::ordered_json trial_json(const KnobSpace& space, const TrialResult& trial, size_t index) {
  nlohmann::ordered_json out;
  out["index"] = index;
  nlohmann::ordered_json knobs = nlohmann::ordered_json::object();
  for (size_t i = 0; i < space.slots.size() && i < trial.config.size(); ++i)
    knobs[space.slots[i].label()] = space.slots[i].values[trial.config[i]];
  out["knobs"] = knobs;
  nlohmann::ordered_json meters = nlohmann::ordered_json::object();
  for (const auto& [name, value] : trial.meters) meters[name] = value;
  out["meters"] = meters;
  nlohmann::ordered_json constraints = nlohmann::ordered_json::array();
  for (const auto& c : trial.constraints)
    constraints.push_back({{"kind", ast::decl_keyword(c.decl->kind)}, {"constraint", c.text}, {"lhs", c.lhs},
                           {"rhs", c.rhs}, {"holds", c.holds}});
  out["constraints"] = constraints;
  out["objective"] = trial.objective ? nlohmann::ordered_json(*trial.objective) : nlohmann::ordered_json(nullptr);
  out["feasible"] = trial.feasible;
  out["seconds"] = trial.seconds;
  return out;
}

}  // namespace

runtime::CompressedModel to_compressed(const MaterializedModel& model, std::vector<std::vector<uint8_t>>& buffers) {
  runtime::CompressedModel compressed;
  buffers.reserve(model.tensors.size());
  for (const auto& tensor : model.tensors) {
    if (tensor.encoding == Encoding::Quantized) {
      compressed.quantized.push_back(*tensor.quantized);
    } else if (tensor.encoding == Encoding::LowRank) {
      compressed.low_rank.push_back(*tensor.low_rank);
    } else if (tensor.encoding == Encoding::Sparse) {
      compressed.sparse.push_back(runtime::sparse_from_dense(tensor.name, tensor.shape, tensor.dtype, tensor.values->data()));
    } else if (tensor.values) {
      runtime::DType dtype = tensor.dtype;
      buffers.push_back(dense_bytes(tensor, dtype));
      compressed.dense.push_back({tensor.name, dtype, tensor.shape, {buffers.back().data(), buffers.back().size()}});
    } else if (tensor.raw) {
      compressed.dense.push_back({tensor.name, tensor.dtype, tensor.shape, {tensor.raw->data(), tensor.raw->size()}});
    }
  }
  return compressed;
}

Status save_model(const std::string& path, const MaterializedModel& model, const runtime::Provenance& provenance) {
  std::vector<std::vector<uint8_t>> buffers;
  return runtime::write_compressed(path, to_compressed(model, buffers), provenance);
}

std::map<std::string, std::string> knob_text(const KnobSpace& space, const Configuration& config) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < space.slots.size(); ++i) {
    const KnobSlot& slot = space.slots[i];
    double value = slot.values[config[i]];
    out[slot.label()] = slot.type == sema::Type::Ratio ? fmt::format("{:g}%", value * 100) : fmt::format("{:g}", value);
  }
  return out;
}

nlohmann::ordered_json make_report(const std::string& script, const std::string& policy, const KnobSpace& space,
                                   const TrialResult& baseline, const SearchOutcome& outcome) {
  nlohmann::ordered_json report;
  report["script"] = script;
  report["policy"] = policy;
  report["baseline"] = trial_json(space, baseline, 0)["meters"];
  nlohmann::ordered_json trials = nlohmann::ordered_json::array();
  for (size_t i = 0; i < outcome.trials.size(); ++i) trials.push_back(trial_json(space, outcome.trials[i], i));
  report["trials"] = trials;
  report["chosen"] = outcome.chosen ? nlohmann::ordered_json(*outcome.chosen) : nlohmann::ordered_json(nullptr);
  if (outcome.chosen) report["chosen_knobs"] = trials[*outcome.chosen]["knobs"];
  if (!outcome.frontier.empty()) report["pareto_frontier"] = outcome.frontier;
  report["notes"] = outcome.notes;
  return report;
}

Status write_text_file(const std::string& path, const std::string& text) {
  auto file = runtime::AtomicFile::create(path);
  if (!file) return file.error();
  if (auto status = file->write(text.data(), text.size()); !status) return status;
  return file->commit();
}

}  // namespace kmr::engine
