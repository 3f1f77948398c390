// Name resolution and type checking of a whole program (a root file and its imports).
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"
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
};

struct CheckOptions {
  /// Open the files that `load`, `fashion_mnist`, `idx` and `csv` name, so that a missing
  /// or malformed file is an error at the call. Off for tests of pure language rules.
  bool probe_files = true;
};

/// Resolves names across `modules` (one namespace for the root file and its imports) and
/// checks every declaration; problems go to `sink`, each once, with the span to blame.
CheckedProgram check_program(const std::vector<const ast::Module*>& modules,
                             const source::SourceManager& sources, diag::DiagnosticSink& sink,
                             const CheckOptions& options = {});

}  // namespace kmr::sema
