// The module loader (imports from memory, the stdlib or files; cycles) and the phase order
// of a compilation.
#include "compiler/driver/compilation.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "stdlib/embedded_stdlib.h"

namespace kmr::driver {
namespace {

using diag::Code;

constexpr const char* kStdPrefix = "std/";

// Reports a file that could not be read, at `span` (the import naming it, or no location).
void report_read_failure(ReadResult result, const std::string& path, const std::string& error, size_t max_bytes,
                         const source::Span& span, diag::DiagnosticSink& sink) {
  if (result == ReadResult::too_large)
    sink.report(span, Code::file_too_large, error, max_bytes);
  else
    sink.report(span, Code::cannot_read, path, error);
}

std::string directory_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

class ModuleLoader {
 public:
  ModuleLoader(Compilation& compilation, const syntax::ParseLimits& limits)
      : compilation_(compilation), limits_(limits) {}

  // Parses the registered file `file` (identified by `key` for cycle detection), then its imports.
  void load(uint32_t file, const std::string& key, const std::string& directory) {
    loaded_.push_back(key);
    stack_.push_back(key);
    auto module = std::make_unique<ast::Module>(
        syntax::parse_module(compilation_.sources, file, compilation_.diagnostics, limits_));
    const ast::Module& parsed = *module;
    compilation_.modules.push_back(std::move(module));
    for (const auto& decl : parsed.decls)
      if (decl->kind == ast::DeclKind::Import) import(*decl, directory);
    stack_.pop_back();
  }

 private:
  void import(const ast::Decl& decl, const std::string& directory) {
    const std::string& name = decl.name;
    std::string key, text, path, error;
    bool on_disk = false;
    if (auto in_memory = compilation_.virtual_modules.find(name); in_memory != compilation_.virtual_modules.end()) {
      key = path = name + ".kmr";
      text = in_memory->second;
    } else if (name.rfind(kStdPrefix, 0) == 0) {
      std::string module = name.substr(std::strlen(kStdPrefix));
      auto source = stdlib::find_module(module);
      if (!source) {
        std::string known;
        for (auto m : stdlib::module_names()) known += (known.empty() ? "" : ", ") + std::string(kStdPrefix) + std::string(m);
        compilation_.diagnostics.report(decl.name_span, Code::import_not_found, name, " (the stdlib has " + known + ")");
        return;
      }
      key = path = name + ".kmr";
      text = std::string(*source);
    } else {
      path = name.empty() || name[0] == '/' ? name : directory + name;
      if (path.size() < 4 || path.compare(path.size() - 4, 4, ".kmr") != 0) path += ".kmr";
      char* resolved = ::realpath(path.c_str(), nullptr);
      if (resolved == nullptr) {
        compilation_.diagnostics.report(decl.name_span, Code::import_not_found, name, " (no file " + path + ")");
        return;
      }
      key = resolved;
      std::free(resolved);
      on_disk = true;
    }
    if (auto on_stack = std::find(stack_.begin(), stack_.end(), key); on_stack != stack_.end()) {
      std::string cycle;
      for (auto it = on_stack; it != stack_.end(); ++it) cycle += display(*it) + " -> ";
      compilation_.diagnostics.report(decl.name_span, Code::import_cycle, cycle + display(key));
      return;
    }
    if (std::find(loaded_.begin(), loaded_.end(), key) != loaded_.end()) return;
    if (on_disk) {
      auto result = read_source_file(path, limits_.max_bytes, text, error);
      if (result != ReadResult::ok) {
        report_read_failure(result, path, error, limits_.max_bytes, decl.name_span, compilation_.diagnostics);
        return;
      }
    }
    uint32_t file = compilation_.sources.add(path, std::move(text));
    load(file, key, directory_of(path));
  }

  // Cycle messages name files as the user wrote them, relative where possible.
  std::string display(const std::string& key) const {
    for (size_t i = 0; i < compilation_.sources.size(); ++i) {
      const std::string& path = compilation_.sources.file(static_cast<uint32_t>(i)).path;
      char* resolved = ::realpath(path.c_str(), nullptr);
      bool same = resolved && key == resolved;
      std::free(resolved);
      if (same) return path;
    }
    return key;
  }

  Compilation& compilation_;
  const syntax::ParseLimits& limits_;
  std::vector<std::string> stack_, loaded_;
};

}  // namespace

std::vector<const ast::Module*> Compilation::module_list() const {
  std::vector<const ast::Module*> out;
  for (const auto& module : modules) out.push_back(module.get());
  return out;
}

ReadResult read_source_file(const std::string& path, size_t max_bytes, std::string& text, std::string& error) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    error = std::strerror(errno);
    return ReadResult::failed;
  }
  if (!S_ISREG(info.st_mode)) {
    error = "not a regular file";
    return ReadResult::failed;
  }
  if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    error = std::to_string(info.st_size);
    return ReadResult::too_large;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return ReadResult::failed;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = std::strerror(errno);
    return ReadResult::failed;
  }
  text = buffer.str();
  return ReadResult::ok;
}

bool parse_program(const std::string& path, Compilation& compilation, const syntax::ParseLimits& limits) {
  std::string text, error;
  auto result = read_source_file(path, limits.max_bytes, text, error);
  if (result != ReadResult::ok) {
    uint32_t file = compilation.sources.add(path, "");
    report_read_failure(result, path, error, limits.max_bytes, source::Span{file, 0, 0, 0, 0}, compilation.diagnostics);
    return false;
  }
  uint32_t file = compilation.sources.add(path, std::move(text));
  char* resolved = ::realpath(path.c_str(), nullptr);
  std::string key = resolved ? resolved : path;
  std::free(resolved);
  ModuleLoader(compilation, limits).load(file, key, directory_of(path));
  return !compilation.diagnostics.has_errors();
}

bool parse_program_text(const std::string& name, std::string text, Compilation& compilation,
                        const syntax::ParseLimits& limits) {
  uint32_t file = compilation.sources.add(name, std::move(text));
  ModuleLoader(compilation, limits).load(file, name, "");
  return !compilation.diagnostics.has_errors();
}

bool check_program(Compilation& compilation, const sema::CheckOptions& options) {
  compilation.program =
      sema::check_program(compilation.module_list(), compilation.sources, compilation.diagnostics, options);
  return !compilation.diagnostics.has_errors();
}

}  // namespace kmr::driver
