// kmrc: the command-line driver of the KMR compiler.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "compiler/ast/ast_dump.h"
#include "compiler/codegen/jit.h"
#include "compiler/codegen/layout.h"
#include "compiler/driver/compilation.h"
#include "compiler/kir/printer.h"
#include "compiler/lower/lower_kernel.h"
#include "compiler/passes/optimize.h"
#include "compiler/syntax/formatter.h"
#include "tools/kmrc/decode_command.h"
#include "tools/kmrc/inspect_command.h"
#include "tools/kmrc/run_command.h"

namespace {

using kmr::driver::Compilation;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;

int finish(const Compilation& compilation) {
  std::cerr << kmr::diag::render_all(compilation.diagnostics, compilation.sources);
  return compilation.diagnostics.has_errors() ? kExitError : kExitOk;
}

int run_check(const std::string& path) {
  Compilation compilation;
  if (kmr::driver::parse_program(path, compilation)) kmr::driver::check_program(compilation);
  return finish(compilation);
}

int run_emit_ast(const std::string& path, bool with_spans) {
  Compilation compilation;
  if (!kmr::driver::parse_program(path, compilation)) return finish(compilation);
  std::cout << kmr::ast::dump(*compilation.modules.front(), with_spans);
  return finish(compilation);
}

// Lowers the file's kernels and fused pipelines, runs the kernel passes and prints each
// kernel with its schedule (knobs at their defaults).
int run_emit_kir(const std::string& path) {
  Compilation compilation;
  if (!kmr::driver::parse_program(path, compilation) || !kmr::driver::check_program(compilation)) return finish(compilation);
  auto kernels = kmr::lower::lower_module_kernels(compilation.program, *compilation.modules.front(), compilation.diagnostics);
  for (const auto& kernel : kernels) {
    auto prepared = kmr::passes::prepare(kernel);
    if (!prepared) {
      std::cerr << fmt::format("{}: error: {}\n", path, prepared.error().message);
      return kExitError;
    }
    std::cout << kmr::kir::print(prepared->kernel) << kmr::passes::print_schedule(prepared->kernel, prepared->schedule)
              << kmr::codegen::describe_speculation(prepared->kernel, kmr::codegen::make_layout(*prepared)) << "\n";
  }
  return finish(compilation);
}

// Like `emit kir`, but prints the LLVM IR the JIT generates for each kernel's sweeps (after
// the O3 pipeline for this CPU unless `optimize` is false).
int run_emit_llvm(const std::string& path, bool optimize) {
  Compilation compilation;
  if (!kmr::driver::parse_program(path, compilation) || !kmr::driver::check_program(compilation)) return finish(compilation);
  auto kernels = kmr::lower::lower_module_kernels(compilation.program, *compilation.modules.front(), compilation.diagnostics);
  for (const auto& kernel : kernels) {
    auto prepared = kmr::passes::prepare(kernel);
    auto ir = prepared ? kmr::codegen::emit_llvm_ir(*prepared, optimize) : kmr::Expected<std::string>(prepared.error());
    if (!ir) {
      std::cerr << fmt::format("{}: error: {}\n", path, ir.error().message);
      return kExitError;
    }
    std::cout << "; kernel " << kernel.name << "\n" << *ir << "\n";
  }
  return finish(compilation);
}

// Writes `text` next to `path` and renames it over, so an interrupted write loses nothing.
bool replace_file(const std::string& path, const std::string& text, std::string& error) {
  std::string temp = path + ".kmrfmt.tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      error = "cannot write " + temp;
      std::remove(temp.c_str());
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    error = "cannot replace " + path;
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

int run_fmt(const std::string& path, bool write) {
  Compilation compilation;
  std::string original, error;
  kmr::syntax::ParseLimits limits;
  if (kmr::driver::read_source_file(path, limits.max_bytes, original, error) != kmr::driver::ReadResult::ok) {
    // parse_program reports the failure with its code (E003 or E011).
    kmr::driver::parse_program(path, compilation, limits);
    return finish(compilation);
  }
  uint32_t file = compilation.sources.add(path, original);
  auto module = kmr::syntax::parse_module(compilation.sources, file, compilation.diagnostics, limits);
  if (compilation.diagnostics.has_errors()) return finish(compilation);
  std::string formatted = kmr::syntax::format_module(module);
  if (!write) {
    std::cout << formatted;
    return kExitOk;
  }
  if (formatted != original && !replace_file(path, formatted, error)) {
    std::cerr << fmt::format("{}: error[E011]: {}\n", path, error);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kmrc: the KMR policy compiler"};
  app.require_subcommand(1);
  std::string path;
  bool with_spans = true, write = false;

  auto* check = app.add_subcommand("check", "parse and type-check a .kmr file");
  check->add_option("file", path, "the .kmr policy")->required();

  auto* emit = app.add_subcommand("emit", "print an intermediate form");
  emit->require_subcommand(1);
  auto* emit_ast = emit->add_subcommand("ast", "the syntax tree");
  emit_ast->add_option("file", path, "the .kmr policy")->required();
  emit_ast->add_flag("!--no-spans", with_spans, "omit source positions");

  auto* emit_kir = emit->add_subcommand("kir", "the kernel IR of the file's kernels and fused pipelines, with schedules");
  emit_kir->add_option("file", path, "the .kmr policy")->required();
  bool optimize_llvm = true;
  auto* emit_llvm = emit->add_subcommand("llvm", "the LLVM IR the JIT compiles for the file's kernels (optimised for this CPU)");
  emit_llvm->add_option("file", path, "the .kmr policy")->required();
  emit_llvm->add_flag("!--no-opt", optimize_llvm, "print the IR before the O3 pipeline");

  auto* format = app.add_subcommand("fmt", "print the file in canonical layout");
  format->add_option("file", path, "the .kmr policy")->required();
  format->add_flag("-w,--write", write, "rewrite the file in place instead of printing it");

  kmrc::RunCommandOptions run_options;
  auto* run = kmrc::add_run_command(app, run_options);
  kmrc::InspectOptions inspect_options;
  auto* inspect = kmrc::add_inspect_command(app, inspect_options);
  kmrc::DecodeOptions decode_options;
  auto* decode = kmrc::add_decode_command(app, decode_options);

  CLI11_PARSE(app, argc, argv);
  if (check->parsed()) return run_check(path);
  if (run->parsed()) return kmrc::run_run(run_options);
  if (emit_ast->parsed()) return run_emit_ast(path, with_spans);
  if (emit_kir->parsed()) return run_emit_kir(path);
  if (emit_llvm->parsed()) return run_emit_llvm(path, optimize_llvm);
  if (format->parsed()) return run_fmt(path, write);
  if (inspect->parsed()) return kmrc::run_inspect(inspect_options);
  if (decode->parsed()) return kmrc::run_decode(decode_options);
  return kExitError;
}
