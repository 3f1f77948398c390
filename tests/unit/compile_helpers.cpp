// Front-end drivers for the unit tests.
#include "compile_helpers.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "compiler/ast/ast_dump.h"

namespace kmr::test {

std::string brief(const diag::Diagnostic& d) {
  return fmt::format("{}@{}:{}", diag::code_id(d.code), d.span.line, d.span.col);
}

namespace {

// Checks what `parsed` says parsed, without opening files; the diagnostics in brief form.
std::vector<std::string> check_parsed(driver::Compilation& compilation, bool parsed) {
  if (parsed) {
    sema::CheckOptions options;
    options.probe_files = false;
    driver::check_program(compilation, options);
  }
  std::vector<std::string> out;
  for (const auto& d : compilation.diagnostics.sorted()) out.push_back(brief(d));
  return out;
}

}  // namespace

std::vector<std::string> compile(const std::string& text, const std::string& name) {
  driver::Compilation compilation;
  return check_parsed(compilation, driver::parse_program_text(name, text, compilation));
}

std::vector<std::string> compile_file(const std::string& path) {
  driver::Compilation compilation;
  return check_parsed(compilation, driver::parse_program(path, compilation));
}

bool has(const std::vector<std::string>& diagnostics, const std::string& code) {
  for (const auto& d : diagnostics)
    if (d.rfind(code, 0) == 0) return true;
  return false;
}

std::string ast_of(const std::string& text) {
  driver::Compilation compilation;
  uint32_t file = compilation.sources.add("test.kmr", text);
  auto module = syntax::parse_module(compilation.sources, file, compilation.diagnostics);
  if (compilation.diagnostics.has_errors()) return diag::render_all(compilation.diagnostics, compilation.sources);
  return ast::dump(module, false);
}

std::string read_project_file(const std::string& relative_path) {
  std::ifstream in(std::string(KMR_SOURCE_DIR) + "/" + relative_path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace kmr::test
