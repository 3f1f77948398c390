// What a run leaves behind: the chosen model saved in its compressed layout and the JSON
// report of every trial, both written atomically (a failed write changes nothing).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "runtime/compressed_writer.h"
#include "runtime/engine/knob_space.h"
#include "runtime/engine/model_store.h"
#include "runtime/engine/search.h"

namespace kmr::engine {

/// The compressed form of `model`: quantized and bitmask-sparse tensors as the pipeline
/// produced them, the rest dense in their original dtype. Dense bytes live in `buffers`,
/// which must outlive the result.
runtime::CompressedModel to_compressed(const MaterializedModel& model, std::vector<std::vector<uint8_t>>& buffers);

/// Saves `model` at `path` with `provenance` in its metadata (atomic).
Status save_model(const std::string& path, const MaterializedModel& model, const runtime::Provenance& provenance);

/// The chosen knob values as text, for provenance and the summary: `bits[fc1.weight]` -> "4".
std::map<std::string, std::string> knob_text(const KnobSpace& space, const Configuration& config);

/// The report: the baseline, every trial (knob values, meters, constraints with both
/// sides, objective, feasibility, time), the chosen trial, the pareto frontier and notes.
nlohmann::ordered_json make_report(const std::string& script, const std::string& policy, const KnobSpace& space,
                                   const TrialResult& baseline, const SearchOutcome& outcome);

/// Writes `text` to `path` atomically.
Status write_text_file(const std::string& path, const std::string& text);

}  // namespace kmr::engine
