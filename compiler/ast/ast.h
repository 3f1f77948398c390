// The KMR abstract syntax tree: plain data with a span on every node, built by the parser
// front end and read (never modified) by the resolver, type checker, printers and lowering.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/source/source_manager.h"

namespace kmr::ast {

using source::Span;

/// Units a number literal may carry. `percent` makes a ratio (50% == 0.5).
enum class Unit { none, percent, B, KB, KiB, MB, MiB, GB, GiB, FLOP, KFLOP, MFLOP, GFLOP, TFLOP, us, ms, s, min };

/// The unit's spelling in source (`KiB`), or "" for none.
const char* unit_name(Unit unit);
/// The unit named by `name`, if any.
std::optional<Unit> unit_from_name(const std::string& name);

// ---------------------------------------------------------------------------------------
// Expressions

enum class ExprKind { Number, String, Bool, Name, List, Unary, Binary, Call, Member, Index };

struct Expr {
  explicit Expr(ExprKind kind, Span span) : kind(kind), span(span) {}
  virtual ~Expr() = default;
  const ExprKind kind;
  Span span;

  template <class T>
  const T* as() const { return kind == T::kKind ? static_cast<const T*>(this) : nullptr; }
};
using ExprPtr = std::unique_ptr<Expr>;

/// `64 KiB`, `0.5`, `50%`. `text` is the literal as written (without its unit).
struct NumberExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Number;
  NumberExpr(Span span) : Expr(kKind, span) {}
  std::string text;
  bool is_float = false;
  int64_t int_value = 0;    // valid when !is_float
  double float_value = 0;   // always valid
  Unit unit = Unit::none;
  Span unit_span;
};

/// A string literal; `value` has its escapes decoded.
struct StringExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::String;
  StringExpr(Span span) : Expr(kKind, span) {}
  std::string value;
};

struct BoolExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Bool;
  BoolExpr(Span span) : Expr(kKind, span) {}
  bool value = false;
};

struct NameExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Name;
  NameExpr(Span span) : Expr(kKind, span) {}
  std::string name;
};

/// `[a, b, c]`
struct ListExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::List;
  ListExpr(Span span) : Expr(kKind, span) {}
  std::vector<ExprPtr> elements;
};

enum class UnaryOp { Neg, Not };
enum class BinaryOp { Pow, Mul, Div, Add, Sub, Lt, Le, Gt, Ge, Eq, Ne, And, Or, Pipe };

const char* unary_op_text(UnaryOp op);   // "-", "not"
const char* binary_op_text(BinaryOp op); // "^", "*", ..., "|>"
/// Binding strength: higher binds tighter (Pow highest, Pipe lowest).
int binary_precedence(BinaryOp op);
bool is_comparison(BinaryOp op);

struct UnaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Unary;
  UnaryExpr(Span span) : Expr(kKind, span) {}
  UnaryOp op = UnaryOp::Neg;
  ExprPtr operand;
};

struct BinaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Binary;
  BinaryExpr(Span span) : Expr(kKind, span) {}
  BinaryOp op = BinaryOp::Add;
  Span op_span;
  ExprPtr lhs, rhs;
};

/// One argument of a call: positional when `name` is empty.
struct Arg {
  std::string name;
  Span name_span;
  ExprPtr value;
};

/// `callee(args)`; `measure(m)` is a call whose callee is the name `measure`.
struct CallExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Call;
  CallExpr(Span span) : Expr(kKind, span) {}
  ExprPtr callee;
  std::vector<Arg> args;
};

/// `object.member`, as in `base.match("fc*.weight")` (a call whose callee is a member).
struct MemberExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Member;
  MemberExpr(Span span) : Expr(kKind, span) {}
  ExprPtr object;
  std::string member;
  Span member_span;
};

/// `object[index]`
struct IndexExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::Index;
  IndexExpr(Span span) : Expr(kKind, span) {}
  ExprPtr object, index;
};

// ---------------------------------------------------------------------------------------
// Statements (kernel bodies and scripted policies share them; the checker says which
// statement is allowed where).

/// Comments kept for the formatter: those before a node, and one after it on its line.
struct Comments {
  std::vector<std::string> leading;
  std::string trailing;
  bool blank_line_before = false;  // the source separated this node from the previous one
};

enum class StmtKind { Let, Set, Step, If, While, For, Accept, Reject, Yield, Measure };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

struct Stmt {
  explicit Stmt(StmtKind kind, Span span) : kind(kind), span(span) {}
  virtual ~Stmt() = default;
  const StmtKind kind;
  Span span;
  Comments comments;

  template <class T>
  const T* as() const { return kind == T::kKind ? static_cast<const T*>(this) : nullptr; }
};

/// `let name = value;`, `set name = value;`, `measure name = value;`
struct BindStmt : Stmt {
  BindStmt(StmtKind kind, Span span) : Stmt(kind, span) {}
  std::string name;
  Span name_span;
  ExprPtr value;
};

/// `step knob by amount;`
struct StepStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::Step;
  StepStmt(Span span) : Stmt(kKind, span) {}
  std::string name;
  Span name_span;
  ExprPtr amount;
};

/// `if cond { ... } else { ... }`; `else if` is an else block holding one If with
/// `is_else_if` set, so the formatter writes it back the same way.
struct IfStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::If;
  IfStmt(Span span) : Stmt(kKind, span) {}
  ExprPtr condition;
  Block then_block;
  Block else_block;
  bool has_else = false;
  bool is_else_if = false;
  std::vector<std::string> then_end_comments, else_end_comments;
};

struct WhileStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::While;
  WhileStmt(Span span) : Stmt(kKind, span) {}
  ExprPtr condition;
  Block body;
  std::vector<std::string> end_comments;
};

/// `for var in iterable { ... }`
struct ForStmt : Stmt {
  static constexpr StmtKind kKind = StmtKind::For;
  ForStmt(Span span) : Stmt(kKind, span) {}
  std::string var;
  Span var_span;
  ExprPtr iterable;
  Block body;
  std::vector<std::string> end_comments;
};

/// `accept;`, `reject;`, `yield value;` (value null for accept/reject)
struct SimpleStmt : Stmt {
  SimpleStmt(StmtKind kind, Span span) : Stmt(kind, span) {}
  ExprPtr value;
};

// ---------------------------------------------------------------------------------------
// Declarations

enum class DeclKind {
  Import, Model, Data, Knob, Rule, Kernel, Pipeline, Meter, Budget, Require, Objective,
  Policy, Save, Report
};

/// The keyword that starts a declaration of this kind ("model", "knob", ...).
const char* decl_keyword(DeclKind kind);

struct Decl {
  explicit Decl(DeclKind kind, Span span) : kind(kind), span(span) {}
  virtual ~Decl() = default;
  const DeclKind kind;
  Span span;
  std::string name;  // empty for anonymous declarations (budget, require, ...)
  Span name_span;
  Comments comments;

  template <class T>
  const T* as() const { return kind == T::kKind ? static_cast<const T*>(this) : nullptr; }
};
using DeclPtr = std::unique_ptr<Decl>;

/// `import "std/quant";` (name holds the module path)
struct ImportDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Import;
  ImportDecl(Span span) : Decl(kKind, span) {}
};

/// `model m = e;`, `data d = e;`, `pipeline p = e;` — a named value.
struct ValueDecl : Decl {
  ValueDecl(DeclKind kind, Span span) : Decl(kind, span) {}
  ExprPtr value;
};

struct TypeRef {
  std::string name;
  Span span;
};

/// `in [lo, hi] step s` or `in {v1, v2, ...}`.
struct Domain {
  enum class Kind { None, Range, Set } kind = Kind::None;
  ExprPtr lo, hi, step;          // Range (step may be null)
  std::vector<ExprPtr> values;   // Set
  Span span;
};

/// `knob name[var in selection] : type in domain = default;`
struct KnobDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Knob;
  KnobDecl(Span span) : Decl(kKind, span) {}
  std::string index_var;  // empty for a scalar knob
  Span index_var_span;
  ExprPtr index_selection;
  TypeRef type;
  Domain domain;
  ExprPtr default_value;  // may be null: the first value of the domain
};

/// `rule name = kernel(args) on selection;`
struct RuleDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Rule;
  RuleDecl(Span span) : Decl(kKind, span) {}
  ExprPtr call;
  ExprPtr target;  // may be null
};

struct Param {
  std::string name;
  Span name_span;
  TypeRef type;
  ExprPtr default_value;  // may be null
};

/// `kernel name(params) -> type { body }`, or `native kernel name(params) -> type;` for a
/// rule implemented in C++ and declared to the language by a stdlib module.
struct KernelDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Kernel;
  KernelDecl(Span span) : Decl(kKind, span) {}
  bool is_native = false;
  std::vector<Param> params;
  TypeRef result;
  Block body;
  std::vector<std::string> end_comments;
};

/// `meter name : type = e;`
struct MeterDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Meter;
  MeterDecl(Span span) : Decl(kKind, span) {}
  TypeRef type;
  ExprPtr value;
};

/// `budget e;`, `require e;`, `objective maximize|minimize e;`
struct ConstraintDecl : Decl {
  ConstraintDecl(DeclKind kind, Span span) : Decl(kind, span) {}
  ExprPtr expr;
  bool maximize = false;  // objectives only
};

/// `policy greedy(args);` or `policy name { statements }`.
struct PolicyDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::Policy;
  PolicyDecl(Span span) : Decl(kKind, span) {}
  bool is_scripted = false;
  std::vector<Arg> args;
  Block body;
  std::vector<std::string> end_comments;
};

/// `save e to "path";` and `report to "path";` (model null for report).
struct OutputDecl : Decl {
  OutputDecl(DeclKind kind, Span span) : Decl(kind, span) {}
  ExprPtr model;
  std::string path;
  Span path_span;
};

/// One parsed file.
struct Module {
  uint32_t file = 0;
  std::vector<DeclPtr> decls;
  std::vector<std::string> end_comments;
};

}  // namespace kmr::ast
