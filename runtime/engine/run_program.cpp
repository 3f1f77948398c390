// The phases of a run, in order, and the human-readable summary.
#include "runtime/engine/run_program.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "compiler/syntax/formatter.h"
#include "runtime/engine/outputs.h"
#include "runtime/engine/pareto_plot.h"
#include "runtime/engine/scripted_policy.h"
#include "runtime/engine/weight_meters.h"

namespace kmr::engine {
namespace {

// --set knob=value pins a knob (every member of a family) to one value of its domain.
Status pin_knob(KnobSpace& space, const std::string& knob, const std::string& text) {
  std::string number = text;
  double scale = 1;
  if (!number.empty() && number.back() == '%') {
    number.pop_back();
    scale = 0.01;
  }
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(number.c_str(), &end);
  if (text == "true" || text == "false") {
    value = text == "true" ? 1 : 0;
  } else if (number.empty() || end != number.c_str() + number.size() || errno == ERANGE) {
    return Error{fmt::format("--set {}={}: '{}' is not a number", knob, text, text)};
  }
  value *= scale;
  bool found = false;
  for (auto& slot : space.slots) {
    if (slot.knob != knob) continue;
    found = true;
    auto match = std::find_if(slot.values.begin(), slot.values.end(), [&](double v) {
      return std::fabs(v - value) <= 1e-9 * std::max(1.0, std::fabs(value));
    });
    if (match == slot.values.end())
      return Error{fmt::format("--set {}={}: {} is outside the domain of knob '{}'", knob, text, text, knob)};
    slot.values = {*match};
    slot.default_index = 0;
  }
  if (!found) {
    std::string known;
    for (const auto& slot : space.slots)
      if (known.find(slot.knob) == std::string::npos) known += (known.empty() ? "" : ", ") + slot.knob;
    return Error{fmt::format("--set {}={}: the script has no knob '{}' (its knobs: {})", knob, text, knob,
                             known.empty() ? "none" : known)};
  }
  return Status::success();
}

std::string show(double value, sema::Type type) {
  switch (type) {
    case sema::Type::Bytes:
      return value >= 1024 * 1024 ? fmt::format("{:.2f} MiB", value / 1048576)
             : value >= 1024      ? fmt::format("{:.2f} KiB", value / 1024)
                                  : fmt::format("{:.0f} B", value);
    case sema::Type::Ratio: return fmt::format("{:.2f}%", value * 100);
    case sema::Type::Flops: return fmt::format("{:.3g} FLOP", value);
    case sema::Type::Duration: return fmt::format("{:.3g} s", value);
    case sema::Type::Int: return fmt::format("{:.0f}", value);
    default: return fmt::format("{:.6g}", value);
  }
}

Status make_parent_directories(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
      return Error{fmt::format("{}: cannot create directory: {}", dir, std::strerror(errno))};
  }
  return Status::success();
}

// How the kernels ran: what a user checks when a run is slow or a cache seems unused.
std::string kernel_summary(codegen::KernelEngine& kernels) {
  if (!kernels.uses_jit()) return "kernels: interpreter (--no-jit)";
  codegen::JitStats stats = kernels.jit()->stats();
  std::string host = kernels.jit()->host();
  return fmt::format("kernels: JIT for {}; {} compiled, {} loaded from the disk cache", host.substr(0, host.find(' ')),
                     stats.compiled, stats.disk_hits);
}

nlohmann::ordered_json kernel_report(codegen::KernelEngine& kernels) {
  nlohmann::ordered_json json;
  json["engine"] = kernels.uses_jit() ? "jit" : "interpreter";
  if (kernels.uses_jit()) {
    codegen::JitStats stats = kernels.jit()->stats();
    json["host"] = kernels.jit()->host();
    json["compiled"] = stats.compiled;
    json["disk_cache_hits"] = stats.disk_hits;
    json["disk_cache_writes"] = stats.disk_writes;
    json["disk_cache_rejected"] = stats.disk_rejected;
  }
  return json;
}

Status write_output(const std::string& path, const std::string& text) {
  if (auto status = make_parent_directories(path); !status) return status;
  return write_text_file(path, text);
}

// "out/run.json" -> "out/run.pareto.svg".
std::string pareto_plot_path(const std::string& beside) {
  size_t slash = beside.rfind('/');
  size_t dot = beside.rfind('.');
  std::string stem = dot != std::string::npos && (slash == std::string::npos || dot > slash) ? beside.substr(0, dot) : beside;
  return stem + ".pareto.svg";
}

// What a save wrote: the tensor bytes `encoded_size` counts, the whole file, the stored
// elements and the bits each costs.
nlohmann::ordered_json saved_json(const std::string& name, const std::string& path, const MaterializedModel& model) {
  nlohmann::ordered_json json;
  json["model"] = name;
  json["path"] = path;
  const uint64_t tensor_bytes = encoded_size(model);
  const int64_t parameters = param_count(model);
  json["tensor_bytes"] = tensor_bytes;
  std::error_code error;
  const auto file_bytes = std::filesystem::file_size(path, error);
  json["file_bytes"] = error ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(file_bytes);
  json["parameters"] = parameters;
  json["bits_per_parameter"] =
      parameters > 0 ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(parameters) : 0.0;
  return json;
}

std::string script_hash(const driver::Compilation& compilation) {
  // FNV-1a of the root file: a stable fingerprint for provenance, not a security hash.
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : compilation.sources.file(0).text) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("fnv1a64:{:016x}", hash);
}

}  // namespace

Expected<int> run_program(const driver::Compilation& compilation, const RunOptions& options, std::ostream& out) {
  const auto started = std::chrono::steady_clock::now();
  const sema::CheckedProgram& program = compilation.program;
  const ast::Module& root = *compilation.modules.front();
  auto built = build_knob_space(program);
  if (!built) return built.error();
  KnobSpace space = std::move(*built);
  for (const auto& [knob, value] : options.pins)
    if (auto status = pin_knob(space, knob, value); !status) return status.error();

  codegen::EngineOptions engine_options;
  engine_options.use_jit = options.use_jit;
  engine_options.threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (options.kernel_cache_dir) engine_options.jit.cache_dir = *options.kernel_cache_dir;
  auto kernels = codegen::KernelEngine::create(engine_options);
  if (!kernels) return kernels.error();

  ModelStore store;
  auto evaluator = TrialEvaluator::create(program, root, store, space, **kernels, options.host, options.progress);
  if (!evaluator) return evaluator.error();
  auto baseline = (*evaluator)->evaluate_baseline();
  if (!baseline) return baseline.error();

  const ast::PolicyDecl* policy = nullptr;
  const ast::ConstraintDecl* objective = nullptr;
  std::vector<const ast::OutputDecl*> saves;
  std::string report_path = options.report_path;
  for (const auto& decl : root.decls) {
    if (const auto* p = decl->as<ast::PolicyDecl>()) policy = p;
    if (decl->kind == ast::DeclKind::Objective) objective = static_cast<const ast::ConstraintDecl*>(decl.get());
    if (decl->kind == ast::DeclKind::Save) saves.push_back(static_cast<const ast::OutputDecl*>(decl.get()));
    if (decl->kind == ast::DeclKind::Report && report_path.empty())
      report_path = static_cast<const ast::OutputDecl&>(*decl).path;
  }
  bool maximize = objective == nullptr || objective->maximize;
  SearchLimits limits;
  limits.fuel = options.fuel;
  limits.policy_memory_bytes = options.policy_memory_bytes;
  std::string policy_name = policy ? policy->name : "greedy";
  std::optional<size_t> bisect_slot;
  if (policy && !policy->is_scripted) {
    for (const auto& arg : policy->args) {
      auto value = sema::evaluate_constant(*arg.value);
      if (arg.name == "max_trials" && value) limits.max_trials = static_cast<size_t>(value->integer);
      if (arg.name == "time_limit" && value) limits.time_limit_seconds = value->number;
      if (arg.name == "knob")
        if (const auto* name = arg.value->as<ast::NameExpr>()) {
          int slot = space.find(name->name);
          if (slot < 0) return Error{fmt::format("bisect searches one scalar knob; '{}' is a family", name->name)};
          bisect_slot = static_cast<size_t>(slot);
        }
    }
  }

  if (options.max_trials) limits.max_trials = *options.max_trials;
  if (options.time_limit_seconds) limits.time_limit_seconds = *options.time_limit_seconds;
  if (options.progress != nullptr)
    limits.on_trial = [&progress = *options.progress](const SearchProgress& at) {
      std::string best = "no feasible trial yet";
      if (at.best != nullptr && at.best->feasible)
        best = at.best->objective ? fmt::format("best objective {:.6g}", *at.best->objective) : "a feasible trial";
      // \r and erase-line: the line is redrawn in place on a terminal.
      progress << fmt::format("\r\x1b[Ktrial {} of at most {}, {}, {:.1f} s", at.trials, at.max_trials, best,
                              at.elapsed_seconds)
               << std::flush;
    };
  Expected<SearchOutcome> outcome = Error{""};
  if (policy && policy->is_scripted) outcome = run_scripted_policy(*policy, **evaluator, space, limits, maximize);
  else if (policy_name == "grid") outcome = grid_search(**evaluator, space, limits, maximize);
  else if (policy_name == "pareto") outcome = pareto_search(**evaluator, space, limits, maximize);
  else if (policy_name == "bisect") {
    if (!bisect_slot) {
      if (space.slots.size() != 1) return Error{"bisect needs `knob = k` when the script has several knobs"};
      bisect_slot = 0;
    }
    outcome = bisect_search(**evaluator, space, *bisect_slot, limits, maximize);
  } else outcome = greedy_search(**evaluator, space, limits, maximize);
  if (options.progress != nullptr) *options.progress << "\r\x1b[K" << std::flush;
  if (!outcome) return outcome.error();
  for (auto& note : (*evaluator)->notes()) outcome->notes.push_back(std::move(note));

  // The summary: baseline against the chosen trial, meter by meter.
  const TrialResult* chosen = outcome->chosen ? &outcome->trials[*outcome->chosen] : nullptr;
  out << fmt::format("policy {}: {} trial{}\n", policy_name, outcome->trials.size(), outcome->trials.size() == 1 ? "" : "s");
  for (const auto& note : outcome->notes) out << "note: " << note << "\n";
  out << fmt::format("  {:<24} {:>16} {:>16}\n", "meter", "baseline", "chosen");
  for (const auto& [name, value] : baseline->meters) {
    sema::Type type = program.symbols.at(name).type;
    std::string picked = chosen ? show(*chosen->meter(name), type) : "-";
    out << fmt::format("  {:<24} {:>16} {:>16}\n", name, show(value, type), picked);
  }
  if (chosen)
    for (const auto& [knob, value] : knob_text(space, chosen->config)) out << fmt::format("  knob {:<19} {:>16}\n", knob, value);

  auto report = make_report(compilation.sources.file(0).path, policy_name, space, *baseline, *outcome);
  // The report is written last, so its run time and kernel statistics cover the saves too
  // (a policy without meters runs its kernels only there).
  auto finish_report = [&]() -> Status {
    report["kernels"] = kernel_report(**kernels);
    report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options.report_out != nullptr) *options.report_out = report;
    if (report_path.empty()) return Status::success();
    return write_output(report_path, report.dump(2) + "\n");
  };

  if (policy_name == "pareto") {
    // The plot goes beside the report (else beside the first saved model): one picture per run.
    std::string beside = !report_path.empty() ? report_path : saves.empty() ? std::string() : saves.front()->path;
    if (beside.empty()) {
      out << "note: the pareto plot is not written: the script has no `report to` or `save`\n";
    } else {
      std::string plot_path = pareto_plot_path(beside);
      std::string cost_label = "cost", objective_label = "objective";
      for (const auto& c : baseline->constraints)
        if (c.decl->kind == ast::DeclKind::Budget) {
          cost_label = "budget: " + c.text;
          break;
        }
      if (objective) objective_label = (objective->maximize ? "maximize " : "minimize ") + syntax::format_expr(*objective->expr);
      if (auto status = write_output(plot_path, pareto_svg(*outcome, cost_label, objective_label)); !status)
        return status.error();
      out << fmt::format("pareto plot written to {}\n", plot_path);
    }
  }

  if (chosen == nullptr) {
    // Name the closest trial and what it missed; save nothing.
    const TrialResult* closest = nullptr;
    for (const auto& trial : outcome->trials)
      if (!closest || TrialLog::budget_excess(trial) < TrialLog::budget_excess(*closest)) closest = &trial;
    std::string missed;
    if (closest)
      for (const auto& c : closest->constraints)
        if (!c.holds) missed += fmt::format("\n  `{}` ({} vs {})", c.text, c.lhs, c.rhs);
    out << fmt::format("no feasible configuration in {} trials; nothing saved.", outcome->trials.size());
    if (closest) {
      std::string knobs;
      for (const auto& [knob, value] : knob_text(space, closest->config)) knobs += fmt::format(" {}={}", knob, value);
      out << fmt::format(" The closest trial ({}) misses:{}", knobs, missed);
    }
    out << "\n" << kernel_summary(**kernels) << "\n";
    if (auto status = finish_report(); !status) return status.error();
    return kRunInfeasible;
  }

  runtime::Provenance provenance{options.kmrc_version, script_hash(compilation), knob_text(space, chosen->config)};
  report["saved"] = nlohmann::ordered_json::array();
  for (const auto* save : saves) {
    const auto* model = save->model->as<ast::NameExpr>();
    if (model == nullptr) return Error{"save names a model or pipeline"};
    auto materialized = (*evaluator)->materialize(model->name, chosen->config);
    if (!materialized) return materialized.error();
    if (auto status = make_parent_directories(save->path); !status) return status.error();
    if (auto status = save_model(save->path, *materialized, provenance); !status) return status.error();
    out << fmt::format("saved {} to {}\n", model->name, save->path);
    report["saved"].push_back(saved_json(model->name, save->path, *materialized));
  }
  out << kernel_summary(**kernels) << "\n";  // after the saves: it counts their kernels
  if (auto status = finish_report(); !status) return status.error();
  if (!report_path.empty()) out << fmt::format("report written to {}\n", report_path);
  return kRunFeasible;
}

}  // namespace kmr::engine
