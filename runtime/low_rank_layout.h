// Quantized low-rank factors in the stored layout: a weight p.weight factored into U and V
// whose factors were quantized is stored as two quantized modules, p.weight_u and
// p.weight_v (docs/format.md §5), and read back as one LowRank tensor.
#pragma once

#include <string>
#include <vector>

#include "runtime/compressed_grouping.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Replaces every pair of quantized logical tensors "p.weight_u.weight" and
/// "p.weight_v.weight" in `tensors` by one LowRank "p.weight" holding them as its factors.
/// Fails, naming the tensor, when one factor is quantized without its partner (or its
/// partner is stored another way). Dense tensors of those names are left alone.
kmr::Status pair_quantized_factors(std::vector<LogicalTensor>& tensors, const std::string& label);

}  // namespace kmr::runtime
