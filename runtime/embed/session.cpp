// kmr::Session: the embedding API's one entry point. Compiles with the registered
// meters, rules and bindings, runs through the engine, and turns every outcome —
// diagnostics, engine errors, exceptions — into values at this boundary.
#include <fmt/format.h>
#include <kmr/kmr.h>
#include <sys/stat.h>

#include <exception>
#include <map>
#include <sstream>

#include "compiler/driver/compilation.h"
#include "runtime/embed/host_registry.h"
#include "runtime/embed/report_reader.h"
#include "runtime/engine/run_program.h"

namespace kmr {
namespace {

// Runs `body` (returning R), catching whatever escapes it: nothing crosses the API.
template <class R, class Body>
R guarded(const Body& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Failure{FailureKind::internal, fmt::format("internal error: {}", e.what()), {}};
  } catch (...) {
    return Failure{FailureKind::internal, "internal error: an unknown exception", {}};
  }
}

Diagnostic to_public(const diag::Diagnostic& d, const source::SourceManager& sources) {
  Diagnostic out;
  out.is_error = d.is_error();
  out.file = d.span.file < sources.size() ? sources.file(d.span.file).path : std::string();
  out.line = d.span.line;
  out.column = d.span.col;
  out.code = std::string(diag::code_id(d.code));
  out.message = d.message;
  out.rendered = diag::render(d, sources);
  return out;
}

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

struct Session::Impl {
  // What compile_* was last given, so that run() can compile it again after a change.
  struct Source {
    bool is_file = false;
    std::string name, text;
  };

  embed::HostRegistry host;
  std::map<std::string, std::string> bound_models;
  std::vector<std::pair<std::string, std::string>> pins;
  Limits limits;
  std::optional<Source> source;
  std::unique_ptr<driver::Compilation> compilation;  // null until compiled, and after a change

  Result<std::vector<Diagnostic>> compile(Source source);
  std::vector<std::string> save_paths() const;
};

Result<std::vector<Diagnostic>> Session::Impl::compile(Source given) {
  source = std::move(given);
  compilation.reset();
  auto compiled = std::make_unique<driver::Compilation>();
  compiled->virtual_modules[embed::kHostModule] = host.host_module();
  bool parsed = source->is_file ? driver::parse_program(source->name, *compiled)
                                : driver::parse_program_text(source->name, source->text, *compiled);
  if (parsed) {
    sema::CheckOptions options;
    options.host_meters = host.meter_signatures();
    options.bound_models = bound_models;
    options.bound_data = host.bound_data();
    driver::check_program(*compiled, options);
  }
  std::vector<Diagnostic> diagnostics;
  for (const auto& d : compiled->diagnostics.sorted()) diagnostics.push_back(to_public(d, compiled->sources));
  if (compiled->diagnostics.has_errors())
    return Failure{FailureKind::compile, diag::render_all(compiled->diagnostics, compiled->sources),
                   std::move(diagnostics)};
  compilation = std::move(compiled);
  return diagnostics;
}

std::vector<std::string> Session::Impl::save_paths() const {
  std::vector<std::string> paths;
  for (const auto& decl : compilation->modules.front()->decls)
    if (decl->kind == ast::DeclKind::Save) paths.push_back(static_cast<const ast::OutputDecl&>(*decl).path);
  return paths;
}

Session::Impl& Session::impl() {
  if (!impl_) impl_ = std::make_unique<Impl>();
  return *impl_;
}

Session::Session() = default;
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

Result<void> Session::add_meter(const std::string& name, std::vector<Param> params, Type result,
                                MeterFunction function) {
  return guarded<Result<void>>([&]() -> Result<void> {
    Impl& state = impl();
    auto added = state.host.add_meter(name, std::move(params), result, std::move(function));
    if (added) state.compilation.reset();
    return added;
  });
}

Result<void> Session::add_rule(const std::string& name, std::vector<Param> params, RuleFunction function) {
  return guarded<Result<void>>([&]() -> Result<void> {
    Impl& state = impl();
    auto added = state.host.add_rule(name, std::move(params), std::move(function));
    if (added) state.compilation.reset();
    return added;
  });
}

Result<void> Session::bind_model(const std::string& name, const std::string& path) {
  return guarded<Result<void>>([&]() -> Result<void> {
    Impl& state = impl();
    if (!embed::is_identifier(name))
      return Failure{
          FailureKind::invalid_argument, fmt::format("model name '{}' is not a name (letters, digits, _)", name), {}};
    if (!is_regular_file(path))
      return Failure{FailureKind::invalid_argument,
                     fmt::format("bind_model('{}'): '{}' does not exist or is not a file", name, path),
                     {}};
    state.bound_models[name] = path;
    state.compilation.reset();
    return {};
  });
}

Result<void> Session::bind_data(const std::string& name, std::vector<float> images, int64_t features,
                                std::vector<int32_t> labels) {
  return guarded<Result<void>>([&]() -> Result<void> {
    Impl& state = impl();
    auto bound = state.host.bind_data(name, std::move(images), features, std::move(labels));
    if (bound) state.compilation.reset();
    return bound;
  });
}

Result<void> Session::set_knob(const std::string& knob, const std::string& value) {
  return guarded<Result<void>>([&]() -> Result<void> {
    impl().pins.emplace_back(knob, value);
    return {};
  });
}

Result<void> Session::set_limits(const Limits& limits) {
  return guarded<Result<void>>([&]() -> Result<void> {
    if (limits.threads < 0 || limits.fuel == 0 || limits.policy_memory_bytes == 0)
      return Failure{FailureKind::invalid_argument, "limits: threads must be >= 0, fuel and policy memory > 0", {}};
    if ((limits.max_trials && *limits.max_trials == 0) ||
        (limits.time_limit_seconds && !(*limits.time_limit_seconds > 0)))
      return Failure{FailureKind::invalid_argument, "limits: max_trials and time_limit_seconds must be positive", {}};
    impl().limits = limits;
    return {};
  });
}

Result<std::vector<Diagnostic>> Session::compile_file(const std::string& path) {
  return guarded<Result<std::vector<Diagnostic>>>([&] { return impl().compile(Impl::Source{true, path, {}}); });
}

Result<std::vector<Diagnostic>> Session::compile_string(const std::string& name, const std::string& text) {
  return guarded<Result<std::vector<Diagnostic>>>([&] { return impl().compile(Impl::Source{false, name, text}); });
}

Result<Report> Session::run() {
  return guarded<Result<Report>>([&]() -> Result<Report> {
    Impl& state = impl();
    if (!state.compilation) {
      if (!state.source) return Failure{FailureKind::no_program, "nothing to run: compile a script first", {}};
      auto recompiled = state.compile(*state.source);
      if (!recompiled) return recompiled.error();
    }
    engine::RunOptions options;
    options.pins = state.pins;
    options.fuel = state.limits.fuel;
    options.policy_memory_bytes = state.limits.policy_memory_bytes;
    options.max_trials = state.limits.max_trials;
    options.time_limit_seconds = state.limits.time_limit_seconds;
    options.threads = state.limits.threads;
    options.use_jit = state.limits.use_jit;
    options.kernel_cache_dir = state.limits.kernel_cache_dir;
    options.host = &state.host.extensions();
    nlohmann::ordered_json json;
    options.report_out = &json;
    std::ostringstream summary;
    auto status = engine::run_program(*state.compilation, options, summary);
    if (!status) return Failure{FailureKind::run, status.error().message, {}};
    Report report = embed::read_report(json);
    report.feasible = *status == engine::kRunFeasible;
    if (report.feasible) report.saved = state.save_paths();
    report.summary = summary.str();
    report.json = json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return report;
  });
}

std::string Session::host_module() const {
  try {
    return impl_ ? impl_->host.host_module() : embed::HostRegistry().host_module();
  } catch (...) {
    return {};  // only an allocation can fail here
  }
}

}  // namespace kmr
