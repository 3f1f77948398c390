// Indented tree printing of the AST for `kmrc emit ast` and structural comparisons.
#include "compiler/ast/ast_dump.h"

#include <fmt/format.h>

namespace kmr::ast {
namespace {

class Dumper {
 public:
  explicit Dumper(bool with_spans) : with_spans_(with_spans) {}

  std::string run(const Module& module) {
    for (const auto& decl : module.decls) dump_decl(*decl);
    return std::move(out_);
  }

 private:
  void line(int depth, const std::string& label, const Span& span) {
    out_.append(static_cast<size_t>(depth) * 2, ' ');
    out_ += label;
    if (with_spans_ && span.valid())
      out_ += fmt::format("  [{}:{}-{}:{}]", span.line, span.col, span.end_line, span.end_col);
    out_ += '\n';
  }

  void dump_decl(const Decl& decl) {
    std::string label = fmt::format("{}{}", decl_keyword(decl.kind), decl.name.empty() ? "" : " " + decl.name);
    switch (decl.kind) {
      case DeclKind::Import:
        line(0, fmt::format("import \"{}\"", decl.name), decl.span);
        return;
      case DeclKind::Model:
      case DeclKind::Data:
      case DeclKind::Pipeline:
        line(0, label, decl.span);
        dump_expr(1, "value", *static_cast<const ValueDecl&>(decl).value);
        return;
      case DeclKind::Knob: return dump_knob(static_cast<const KnobDecl&>(decl), label);
      case DeclKind::Rule: {
        const auto& rule = static_cast<const RuleDecl&>(decl);
        line(0, label, decl.span);
        dump_expr(1, "call", *rule.call);
        if (rule.target) dump_expr(1, "on", *rule.target);
        return;
      }
      case DeclKind::Kernel: {
        const auto& kernel = static_cast<const KernelDecl&>(decl);
        line(0, fmt::format("{}{} -> {}", kernel.is_native ? "native " : "", label, kernel.result.name), decl.span);
        for (const auto& param : kernel.params) {
          line(1, fmt::format("param {} : {}", param.name, param.type.name), param.name_span);
          if (param.default_value) dump_expr(2, "default", *param.default_value);
        }
        dump_block(1, kernel.body);
        return;
      }
      case DeclKind::Meter: {
        const auto& meter = static_cast<const MeterDecl&>(decl);
        line(0, fmt::format("{} : {}", label, meter.type.name), decl.span);
        dump_expr(1, "value", *meter.value);
        return;
      }
      case DeclKind::Budget:
      case DeclKind::Require:
      case DeclKind::Objective: {
        const auto& constraint = static_cast<const ConstraintDecl&>(decl);
        if (decl.kind == DeclKind::Objective) label += constraint.maximize ? " maximize" : " minimize";
        line(0, label, decl.span);
        dump_expr(1, "expr", *constraint.expr);
        return;
      }
      case DeclKind::Policy: {
        const auto& policy = static_cast<const PolicyDecl&>(decl);
        line(0, label + (policy.is_scripted ? " (scripted)" : " (built-in)"), decl.span);
        dump_args(1, policy.args);
        dump_block(1, policy.body);
        return;
      }
      case DeclKind::Save:
      case DeclKind::Report: {
        const auto& output = static_cast<const OutputDecl&>(decl);
        line(0, fmt::format("{} to \"{}\"", label, output.path), decl.span);
        if (output.model) dump_expr(1, "model", *output.model);
        return;
      }
    }
  }

  void dump_knob(const KnobDecl& knob, const std::string& label) {
    line(0, fmt::format("{} : {}", label, knob.type.name), knob.span);
    if (knob.index_selection) dump_expr(1, "for each " + knob.index_var + " in", *knob.index_selection);
    if (knob.domain.kind == Domain::Kind::Range) {
      line(1, "domain range", knob.domain.span);
      dump_expr(2, "lo", *knob.domain.lo);
      dump_expr(2, "hi", *knob.domain.hi);
      if (knob.domain.step) dump_expr(2, "step", *knob.domain.step);
    } else if (knob.domain.kind == Domain::Kind::Set) {
      line(1, "domain set", knob.domain.span);
      for (const auto& value : knob.domain.values) dump_expr(2, "value", *value);
    }
    if (knob.default_value) dump_expr(1, "default", *knob.default_value);
  }

  void dump_args(int depth, const std::vector<Arg>& args) {
    for (const auto& arg : args) dump_expr(depth, arg.name.empty() ? "arg" : "arg " + arg.name, *arg.value);
  }

  void dump_block(int depth, const Block& block) {
    for (const auto& stmt : block) dump_stmt(depth, *stmt);
  }

  void dump_stmt(int depth, const Stmt& stmt) {
    switch (stmt.kind) {
      case StmtKind::Let:
      case StmtKind::Set:
      case StmtKind::Measure: {
        const auto& bind = static_cast<const BindStmt&>(stmt);
        const char* keyword = stmt.kind == StmtKind::Let ? "let" : stmt.kind == StmtKind::Set ? "set" : "measure";
        line(depth, fmt::format("{} {}", keyword, bind.name), stmt.span);
        dump_expr(depth + 1, "value", *bind.value);
        return;
      }
      case StmtKind::Step: {
        const auto& step = static_cast<const StepStmt&>(stmt);
        line(depth, "step " + step.name, stmt.span);
        dump_expr(depth + 1, "by", *step.amount);
        return;
      }
      case StmtKind::If: {
        const auto& branch = static_cast<const IfStmt&>(stmt);
        line(depth, branch.is_else_if ? "else if" : "if", stmt.span);
        dump_expr(depth + 1, "condition", *branch.condition);
        line(depth + 1, "then", {});
        dump_block(depth + 2, branch.then_block);
        if (branch.has_else) {
          line(depth + 1, "else", {});
          dump_block(depth + 2, branch.else_block);
        }
        return;
      }
      case StmtKind::While: {
        const auto& loop = static_cast<const WhileStmt&>(stmt);
        line(depth, "while", stmt.span);
        dump_expr(depth + 1, "condition", *loop.condition);
        dump_block(depth + 1, loop.body);
        return;
      }
      case StmtKind::For: {
        const auto& loop = static_cast<const ForStmt&>(stmt);
        line(depth, "for " + loop.var, stmt.span);
        dump_expr(depth + 1, "in", *loop.iterable);
        dump_block(depth + 1, loop.body);
        return;
      }
      case StmtKind::Accept: line(depth, "accept", stmt.span); return;
      case StmtKind::Reject: line(depth, "reject", stmt.span); return;
      case StmtKind::Yield:
        line(depth, "yield", stmt.span);
        dump_expr(depth + 1, "value", *static_cast<const SimpleStmt&>(stmt).value);
        return;
    }
  }

  void dump_expr(int depth, const std::string& role, const Expr& expr) {
    std::string prefix = role + ": ";
    switch (expr.kind) {
      case ExprKind::Number: {
        const auto& number = *expr.as<NumberExpr>();
        line(depth, fmt::format("{}number {}{}{}", prefix, number.text,
                                number.unit == Unit::none || number.unit == Unit::percent ? "" : " ",
                                unit_name(number.unit)), expr.span);
        return;
      }
      case ExprKind::String:
        line(depth, fmt::format("{}string \"{}\"", prefix, expr.as<StringExpr>()->value), expr.span);
        return;
      case ExprKind::Bool:
        line(depth, prefix + (expr.as<BoolExpr>()->value ? "true" : "false"), expr.span);
        return;
      case ExprKind::Name: line(depth, prefix + "name " + expr.as<NameExpr>()->name, expr.span); return;
      case ExprKind::List:
        line(depth, prefix + "list", expr.span);
        for (const auto& element : expr.as<ListExpr>()->elements) dump_expr(depth + 1, "element", *element);
        return;
      case ExprKind::Unary: {
        const auto& unary = *expr.as<UnaryExpr>();
        line(depth, fmt::format("{}unary {}", prefix, unary_op_text(unary.op)), expr.span);
        dump_expr(depth + 1, "operand", *unary.operand);
        return;
      }
      case ExprKind::Binary: {
        const auto& binary = *expr.as<BinaryExpr>();
        line(depth, fmt::format("{}binary {}", prefix, binary_op_text(binary.op)), expr.span);
        dump_expr(depth + 1, "lhs", *binary.lhs);
        dump_expr(depth + 1, "rhs", *binary.rhs);
        return;
      }
      case ExprKind::Call: {
        const auto& call = *expr.as<CallExpr>();
        line(depth, prefix + "call", expr.span);
        dump_expr(depth + 1, "callee", *call.callee);
        dump_args(depth + 1, call.args);
        return;
      }
      case ExprKind::Member: {
        const auto& member = *expr.as<MemberExpr>();
        line(depth, prefix + "member " + member.member, expr.span);
        dump_expr(depth + 1, "object", *member.object);
        return;
      }
      case ExprKind::Index: {
        const auto& index = *expr.as<IndexExpr>();
        line(depth, prefix + "index", expr.span);
        dump_expr(depth + 1, "object", *index.object);
        dump_expr(depth + 1, "index", *index.index);
        return;
      }
    }
  }

  bool with_spans_;
  std::string out_;
};

}  // namespace

std::string dump(const Module& module, bool with_spans) { return Dumper(with_spans).run(module); }

}  // namespace kmr::ast
