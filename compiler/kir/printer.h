// Text form of KIR kernels, for `kmrc emit kir`, test expectations and debugging.
#pragma once

#include <string>
#include <unordered_map>

#include "compiler/kir/kir.h"

namespace kmr::kir {

/// Numbers every node of `kernel` (%0, %1, ... in topological order).
std::unordered_map<const Node*, int> number_nodes(const Kernel& kernel);

/// The kernel's signature, one line per node (`%3 = reduce max %2 over row : f64 row`),
/// then its result and measures.
std::string print(const Kernel& kernel);

}  // namespace kmr::kir
