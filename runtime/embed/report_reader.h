// The engine's JSON report (docs: `report to`) read back into kmr::Report's plain structs.
#pragma once

#include <kmr/kmr.h>

#include <nlohmann/json.hpp>

namespace kmr::embed {

/// Fills the policy, baseline, trials, chosen index and notes of a Report from `json`.
/// Fields that are missing or of another type are left empty: the report is data the
/// engine produced, but a reader of data does not trust its shape.
Report read_report(const nlohmann::ordered_json& json);

}  // namespace kmr::embed
