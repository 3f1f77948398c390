// Check-time probing of checkpoints and data sets through the runtime's readers.
#include "compiler/sema/resource_probe.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "runtime/fashion_mnist.h"
#include "runtime/idx_reader.h"
#include "runtime/mlp.h"
#include "runtime/safetensors_reader.h"
#include "runtime/sharded_checkpoint.h"

namespace kmr::sema {
namespace {

using diag::Code;

// The constant string or int given for parameter `name` (or position `position`).
std::optional<Value> argument(const ast::CallExpr& call, const std::string& name, size_t position) {
  size_t index = 0;
  for (const auto& arg : call.args) {
    bool match = arg.name.empty() ? index++ == position : arg.name == name;
    if (match) return evaluate_constant(*arg.value);
  }
  return std::nullopt;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string activation_of(const ast::CallExpr& load) {
  for (const auto& arg : load.args) {
    const auto* arch = arg.value->as<ast::CallExpr>();
    if (arg.name != "arch" || arch == nullptr) continue;
    for (const auto& a : arch->args)
      if (const auto* name = a.value->as<ast::NameExpr>()) return name->name;
  }
  return "relu";
}

// The runtime's messages already start with the file's name; the diagnostic names it once.
std::string without_path(const std::string& message, const std::string& path) {
  return message.rfind(path + ": ", 0) == 0 ? message.substr(path.size() + 2) : message;
}

template <class Checkpoint>
std::optional<ModelFacts> facts_of(const Checkpoint& checkpoint, const std::string& path, const ast::CallExpr& load,
                                   diag::DiagnosticSink& sink) {
  auto act = runtime::parse_activation(activation_of(load));
  auto arch = runtime::infer_mlp(checkpoint.tensors(), act.value_or(runtime::Activation::relu));
  if (!arch) {
    sink.report(load.span, Code::load_failed, path, without_path(arch.error().message, path));
    return std::nullopt;
  }
  ModelFacts facts;
  facts.path = path;
  for (const auto& tensor : checkpoint.tensors()) facts.tensors.push_back(tensor.name);
  return facts;
}

bool file_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

}  // namespace

std::optional<ModelFacts> probe_model(const ast::CallExpr& load, diag::DiagnosticSink& sink,
                                      const std::string* bound_path) {
  auto path = bound_path ? std::optional<Value>(Value{Type::String, 0, 0, false, *bound_path}) : argument(load, "path", 0);
  if (!path || path->type != Type::String) return std::nullopt;
  if (ends_with(path->text, ".json")) {
    auto checkpoint = runtime::ShardedCheckpoint::open(path->text);
    if (!checkpoint) {
      sink.report(load.span, Code::load_failed, path->text, without_path(checkpoint.error().message, path->text));
      return std::nullopt;
    }
    return facts_of(*checkpoint, path->text, load, sink);
  }
  auto checkpoint = runtime::SafetensorsFile::open(path->text);
  if (!checkpoint) {
    sink.report(load.span, Code::load_failed, path->text, without_path(checkpoint.error().message, path->text));
    return std::nullopt;
  }
  return facts_of(*checkpoint, path->text, load, sink);
}

void probe_data(const ast::CallExpr& source, diag::DiagnosticSink& sink) {
  const auto* callee = source.callee->as<ast::NameExpr>();
  if (callee == nullptr) return;
  if (callee->name == "fashion_mnist") {
    auto split = argument(source, "split", 0);
    if (!split || split->type != Type::String) return;
    if (split->text != "train" && split->text != "test") {
      sink.report(source.span, Code::data_failed, fmt::format("split must be \"train\" or \"test\", not \"{}\"", split->text));
      return;
    }
    auto dir = argument(source, "path", 2);
    auto limit = argument(source, "limit", 1);
    if (limit && limit->type == Type::Int && limit->integer <= 0)
      sink.report(source.span, Code::data_failed, fmt::format("limit must be positive, not {}", limit->integer));
    auto status = runtime::check_fashion_mnist(split->text, dir && dir->type == Type::String
                                                               ? dir->text : runtime::default_fashion_mnist_dir());
    if (!status) sink.report(source.span, Code::data_failed, status.error().message);
    return;
  }
  if (callee->name == "idx") {
    for (auto [name, position] : {std::pair<const char*, size_t>{"images", 0}, {"labels", 1}}) {
      auto path = argument(source, name, position);
      if (!path || path->type != Type::String) continue;
      auto header = runtime::read_idx_header(path->text);
      if (!header) sink.report(source.span, Code::data_failed, header.error().message);
    }
    return;
  }
  if (callee->name == "csv") {
    auto path = argument(source, "path", 0);
    if (path && path->type == Type::String && !file_exists(path->text))
      sink.report(source.span, Code::data_failed, fmt::format("'{}' does not exist or is not a file", path->text));
  }
}

bool glob_matches(const std::string& glob, const std::string& name) {
  return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

}  // namespace kmr::sema
