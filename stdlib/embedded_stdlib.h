// The stdlib modules (`import "std/quant"`), compiled into the binary from stdlib/*.kmr.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace kmr::stdlib {

struct EmbeddedModule {
  std::string_view name;  // "quant" for stdlib/quant.kmr
  std::string_view text;
};

// The table itself, generated at build time.
extern const EmbeddedModule kEmbeddedModules[];
extern const size_t kEmbeddedModuleCount;

/// The source of `std/<name>`, if such a module exists.
std::optional<std::string_view> find_module(std::string_view name);
/// Every module's name, sorted, for "did you mean" messages.
std::vector<std::string_view> module_names();

}  // namespace kmr::stdlib
