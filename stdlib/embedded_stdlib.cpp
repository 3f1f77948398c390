// Lookup in the table that embed_stdlib.cmake generates.
#include "stdlib/embedded_stdlib.h"

#include <algorithm>

namespace kmr::stdlib {

std::optional<std::string_view> find_module(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedModuleCount; ++i)
    if (kEmbeddedModules[i].name == name) return kEmbeddedModules[i].text;
  return std::nullopt;
}

std::vector<std::string_view> module_names() {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kEmbeddedModuleCount; ++i) names.push_back(kEmbeddedModules[i].name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace kmr::stdlib
