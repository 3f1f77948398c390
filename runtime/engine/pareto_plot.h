// The pareto policy's picture: every trial's cost against its objective, the frontier
// joined up, the chosen trial ringed. Plain SVG, so any browser shows it without tools.
#pragma once

#include <string>

#include "runtime/engine/search.h"

namespace kmr::engine {

/// An SVG document plotting pareto_cost (x, labelled `cost_label`) against the objective
/// (y, labelled `objective_label`) for every trial that has both. Deterministic: the same
/// outcome gives the same bytes. With no plottable trial, the axes and a note only.
std::string pareto_svg(const SearchOutcome& outcome, const std::string& cost_label, const std::string& objective_label);

}  // namespace kmr::engine
