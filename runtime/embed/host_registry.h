// The meters, rules and data an application registers through kmr::Session, in the three
// forms the rest of KMR consumes: signatures for the checker, an importable `host`
// module declaring the rules, and the engine's HostExtensions calling the C++ callables.
#pragma once

#include <kmr/kmr.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "compiler/sema/builtins.h"
#include "runtime/engine/host_extensions.h"

namespace kmr::embed {

/// The name scripts import the registered rules by: `import "host";`.
inline constexpr const char* kHostModule = "host";

/// Whether `name` can name a meter, rule, parameter, model or data set in a script.
bool is_identifier(const std::string& name);

class HostRegistry {
 public:
  Result<void> add_meter(const std::string& name, std::vector<Param> params, Type result, MeterFunction function);
  Result<void> add_rule(const std::string& name, std::vector<Param> params, RuleFunction function);
  Result<void> bind_data(const std::string& name, std::vector<float> images, int64_t features,
                         std::vector<int32_t> labels);

  const engine::HostExtensions& extensions() const { return extensions_; }
  const std::vector<sema::Builtin>& meter_signatures() const { return meters_; }
  std::set<std::string> bound_data() const;
  /// `native kernel name(w: tensor, ...) -> tensor;` for each rule.
  const std::string& host_module() const { return module_; }

 private:
  Result<void> claim_name(const std::string& name, const char* what);

  engine::HostExtensions extensions_;
  std::vector<sema::Builtin> meters_;
  std::set<std::string> names_;  // meters and rules share the script's namespace
  std::string module_ = "// The rules the embedding application implements (kmr::Session::add_rule).\n";
  // Callables may keep state: the engine's calls into them are serialised. Heap-held so
  // that the wrappers' reference survives moving the registry.
  std::unique_ptr<std::mutex> calls_ = std::make_unique<std::mutex>();
};

}  // namespace kmr::embed
