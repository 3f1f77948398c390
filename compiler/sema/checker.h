// Name resolution and type checking of a whole program (a root file and its imports).
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/sema/builtins.h"
#include "compiler/sema/types.h"

namespace kmr::sema {

enum class SymbolKind { Model, Data, Knob, Rule, Kernel, Pipeline, Meter, Policy };

/// "a knob", "a meter", ... for messages.
const char* symbol_kind_phrase(SymbolKind kind);

struct Symbol {
  SymbolKind kind;
  const ast::Decl* decl;
  Type type;  // a knob's or meter's value type; Model for models and pipelines
};

/// What the checker learnt about a model it opened: its tensors, in file order.
struct ModelFacts {
  std::string path;
  std::vector<std::string> tensors;
};

/// The checked program: every top-level name, the type of every expression outside kernel
/// bodies that was typed, and the models opened while checking `load` calls.
struct CheckedProgram {
  std::map<std::string, Symbol> symbols;
  std::unordered_map<const ast::Expr*, Type> types;
  std::map<std::string, ModelFacts> models;  // by model declaration name
  /// The host meters the program was checked against (CheckOptions::host_meters): the
  /// engine binds a call's arguments to these signatures.
  std::vector<Builtin> host_meters;
};

struct CheckOptions {
  /// Open the files that `load`, `fashion_mnist`, `idx` and `csv` name, so that a missing
  /// or malformed file is an error at the call. Off for tests of pure language rules.
  bool probe_files = true;
  /// Meters an embedding application implements (kind Meter; parameters model, data or
  /// numbers; a numeric result). Scripts call them like prelude meters; a name the prelude
  /// or the program already defines is an error (E030).
  std::vector<Builtin> host_meters;
  /// Model declaration name -> the checkpoint the application binds in place of the path
  /// its `load(...)` names (probed and recorded in CheckedProgram::models instead).
  std::map<std::string, std::string> bound_models;
  /// Data declarations whose data the application supplies in memory: their sources are
  /// not opened.
  std::set<std::string> bound_data;
};

/// Resolves names across `modules` (one namespace for the root file and its imports) and
/// checks every declaration; problems go to `sink`, each once, with the span to blame.
CheckedProgram check_program(const std::vector<const ast::Module*>& modules,
                             const source::SourceManager& sources, diag::DiagnosticSink& sink,
                             const CheckOptions& options = {});

}  // namespace kmr::sema
