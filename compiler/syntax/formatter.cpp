// Canonical pretty-printing of KMR source; precedence decides where parentheses go.
#include "compiler/syntax/formatter.h"

#include <fmt/format.h>

namespace kmr::syntax {
namespace {

constexpr int kUnaryPrecedence = 6;
constexpr size_t kLineLimit = 100;
constexpr int kPostfixPrecedence = 8;
constexpr int kAtomPrecedence = 9;

int precedence(const ast::Expr& expr) {
  switch (expr.kind) {
    case ast::ExprKind::Binary: return ast::binary_precedence(expr.as<ast::BinaryExpr>()->op);
    case ast::ExprKind::Unary: return kUnaryPrecedence;
    case ast::ExprKind::Call:
    case ast::ExprKind::Member:
    case ast::ExprKind::Index: return kPostfixPrecedence;
    default: return kAtomPrecedence;
  }
}

std::string quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string wrap(const ast::Expr& expr, int min_precedence) {
  std::string text = format_expr(expr);
  return precedence(expr) < min_precedence ? "(" + text + ")" : text;
}

std::string format_args(const std::vector<ast::Arg>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    if (!args[i].name.empty()) out += args[i].name + " = ";
    out += format_expr(*args[i].value);
  }
  return out;
}

// `callee(arg, arg,` filled up to the line limit, continuation lines aligned after the `(`.
// `column` is where the call starts on its line, `tail` what follows it there (`;`).
std::string wrapped_call(const ast::Expr& expr, size_t column, size_t tail) {
  std::string flat = format_expr(expr);
  const auto* call = expr.as<ast::CallExpr>();
  if (call == nullptr || call->args.size() < 2 || column + flat.size() + tail <= kLineLimit) return flat;
  std::string out = wrap(*call->callee, kPostfixPrecedence) + "(";
  size_t indent = column + out.size(), line = indent;
  for (size_t i = 0; i < call->args.size(); ++i) {
    const auto& arg = call->args[i];
    std::string piece = (arg.name.empty() ? "" : arg.name + " = ") + format_expr(*arg.value);
    piece += i + 1 < call->args.size() ? "," : ")";
    size_t needed = piece.size() + (i + 1 == call->args.size() ? tail : 0);
    if (i > 0 && line + 1 + needed > kLineLimit) {
      out += "\n" + std::string(indent, ' ');
      line = indent;
    } else if (i > 0) {
      out += ' ';
      ++line;
    }
    out += piece;
    line += piece.size();
  }
  return out;
}

class Formatter {
 public:
  std::string run(const ast::Module& module) {
    bool first = true;
    for (const auto& decl : module.decls) {
      if (decl->comments.blank_line_before && !first) out_ += '\n';
      first = false;
      leading(0, decl->comments);
      decl_text(*decl);
      trailing(decl->comments);
    }
    if (!module.end_comments.empty() && !first) out_ += '\n';
    for (const auto& comment : module.end_comments) out_ += comment + '\n';
    return std::move(out_);
  }

 private:
  size_t line_start() const {
    size_t newline = out_.rfind('\n');
    return newline == std::string::npos ? 0 : newline + 1;
  }
  void indent(int depth) { out_.append(static_cast<size_t>(depth) * 2, ' '); }
  void leading(int depth, const ast::Comments& comments) {
    for (const auto& comment : comments.leading) {
      if (!comment.empty()) indent(depth);
      out_ += comment + '\n';
    }
    indent(depth);
  }
  void trailing(const ast::Comments& comments) {
    if (!comments.trailing.empty()) out_ += ' ' + comments.trailing;
    out_ += '\n';
  }

  void decl_text(const ast::Decl& decl) {
    using ast::DeclKind;
    std::string keyword = ast::decl_keyword(decl.kind);
    switch (decl.kind) {
      case DeclKind::Import: out_ += "import " + quote(decl.name) + ";"; return;
      case DeclKind::Model:
      case DeclKind::Data:
      case DeclKind::Pipeline:
        out_ += fmt::format("{} {} = ", keyword, decl.name);
        out_ += wrapped_call(*static_cast<const ast::ValueDecl&>(decl).value, out_.size() - line_start(), 1) + ";";
        return;
      case DeclKind::Knob: return knob_text(static_cast<const ast::KnobDecl&>(decl));
      case DeclKind::Rule: {
        const auto& rule = static_cast<const ast::RuleDecl&>(decl);
        std::string target = rule.target ? " on " + format_expr(*rule.target) : "";
        out_ += fmt::format("rule {} = ", decl.name);
        out_ += wrapped_call(*rule.call, out_.size() - line_start(), target.size() + 1) + target;
        out_ += ';';
        return;
      }
      case DeclKind::Kernel: return kernel_text(static_cast<const ast::KernelDecl&>(decl));
      case DeclKind::Meter: {
        const auto& meter = static_cast<const ast::MeterDecl&>(decl);
        out_ += fmt::format("meter {} : {} = {};", decl.name, meter.type.name, format_expr(*meter.value));
        return;
      }
      case DeclKind::Budget:
      case DeclKind::Require:
        out_ += fmt::format("{} {};", keyword, format_expr(*static_cast<const ast::ConstraintDecl&>(decl).expr));
        return;
      case DeclKind::Objective: {
        const auto& objective = static_cast<const ast::ConstraintDecl&>(decl);
        out_ += fmt::format("objective {} {};", objective.maximize ? "maximize" : "minimize",
                            format_expr(*objective.expr));
        return;
      }
      case DeclKind::Policy: {
        const auto& policy = static_cast<const ast::PolicyDecl&>(decl);
        if (!policy.is_scripted) {
          out_ += fmt::format("policy {}({});", decl.name, format_args(policy.args));
          return;
        }
        out_ += fmt::format("policy {} ", decl.name);
        block(0, policy.body, policy.end_comments);
        return;
      }
      case DeclKind::Save:
      case DeclKind::Report: {
        const auto& output = static_cast<const ast::OutputDecl&>(decl);
        if (output.model) out_ += fmt::format("save {} to {};", format_expr(*output.model), quote(output.path));
        else out_ += fmt::format("report to {};", quote(output.path));
        return;
      }
    }
  }

  void knob_text(const ast::KnobDecl& knob) {
    out_ += "knob " + knob.name;
    if (knob.index_selection) out_ += fmt::format("[{} in {}]", knob.index_var, format_expr(*knob.index_selection));
    out_ += " : " + knob.type.name;
    const auto& domain = knob.domain;
    if (domain.kind == ast::Domain::Kind::Range) {
      out_ += fmt::format(" in [{}, {}]", format_expr(*domain.lo), format_expr(*domain.hi));
      if (domain.step) out_ += " step " + format_expr(*domain.step);
    } else if (domain.kind == ast::Domain::Kind::Set) {
      out_ += " in {";
      for (size_t i = 0; i < domain.values.size(); ++i)
        out_ += (i > 0 ? ", " : "") + format_expr(*domain.values[i]);
      out_ += '}';
    }
    if (knob.default_value) out_ += " = " + format_expr(*knob.default_value);
    out_ += ';';
  }

  void kernel_text(const ast::KernelDecl& kernel) {
    out_ += fmt::format("{}kernel {}(", kernel.is_native ? "native " : "", kernel.name);
    for (size_t i = 0; i < kernel.params.size(); ++i) {
      const auto& param = kernel.params[i];
      out_ += fmt::format("{}{}: {}", i > 0 ? ", " : "", param.name, param.type.name);
      if (param.default_value) out_ += " = " + format_expr(*param.default_value);
    }
    out_ += ") -> " + kernel.result.name;
    if (kernel.is_native && kernel.body.empty()) {
      out_ += ';';
      return;
    }
    out_ += ' ';
    block(0, kernel.body, kernel.end_comments);
  }

  // Writes `{`, the statements one level deeper, and `}` at `depth` (no newline after).
  void block(int depth, const ast::Block& body, const std::vector<std::string>& end_comments) {
    out_ += "{\n";
    for (const auto& stmt : body) {
      if (stmt->comments.blank_line_before && &stmt != &body.front()) out_ += '\n';
      leading(depth + 1, stmt->comments);
      stmt_text(depth + 1, *stmt);
      trailing(stmt->comments);
    }
    for (const auto& comment : end_comments) {
      indent(depth + 1);
      out_ += comment + '\n';
    }
    indent(depth);
    out_ += '}';
  }

  void stmt_text(int depth, const ast::Stmt& stmt) {
    using ast::StmtKind;
    switch (stmt.kind) {
      case StmtKind::Let:
      case StmtKind::Set:
      case StmtKind::Measure: {
        const auto& bind = static_cast<const ast::BindStmt&>(stmt);
        const char* keyword = stmt.kind == StmtKind::Let ? "let" : stmt.kind == StmtKind::Set ? "set" : "measure";
        out_ += fmt::format("{} {} = {};", keyword, bind.name, format_expr(*bind.value));
        return;
      }
      case StmtKind::Step: {
        const auto& step = static_cast<const ast::StepStmt&>(stmt);
        out_ += fmt::format("step {} by {};", step.name, format_expr(*step.amount));
        return;
      }
      case StmtKind::If: return if_text(depth, static_cast<const ast::IfStmt&>(stmt));
      case StmtKind::While: {
        const auto& loop = static_cast<const ast::WhileStmt&>(stmt);
        out_ += "while " + format_expr(*loop.condition) + ' ';
        block(depth, loop.body, loop.end_comments);
        return;
      }
      case StmtKind::For: {
        const auto& loop = static_cast<const ast::ForStmt&>(stmt);
        out_ += fmt::format("for {} in {} ", loop.var, format_expr(*loop.iterable));
        block(depth, loop.body, loop.end_comments);
        return;
      }
      case StmtKind::Accept: out_ += "accept;"; return;
      case StmtKind::Reject: out_ += "reject;"; return;
      case StmtKind::Yield:
        out_ += "yield " + format_expr(*static_cast<const ast::SimpleStmt&>(stmt).value) + ';';
        return;
    }
  }

  void if_text(int depth, const ast::IfStmt& branch) {
    out_ += "if " + format_expr(*branch.condition) + ' ';
    block(depth, branch.then_block, branch.then_end_comments);
    if (!branch.has_else) return;
    out_ += " else ";
    if (branch.else_block.size() == 1 && branch.else_block[0]->kind == ast::StmtKind::If &&
        static_cast<const ast::IfStmt&>(*branch.else_block[0]).is_else_if) {
      if_text(depth, static_cast<const ast::IfStmt&>(*branch.else_block[0]));
      return;
    }
    block(depth, branch.else_block, branch.else_end_comments);
  }

  std::string out_;
};

}  // namespace

std::string format_expr(const ast::Expr& expr) {
  using ast::ExprKind;
  switch (expr.kind) {
    case ExprKind::Number: {
      const auto& number = *expr.as<ast::NumberExpr>();
      if (number.unit == ast::Unit::none) return number.text;
      return number.text + (number.unit == ast::Unit::percent ? "" : " ") + ast::unit_name(number.unit);
    }
    case ExprKind::String: return quote(expr.as<ast::StringExpr>()->value);
    case ExprKind::Bool: return expr.as<ast::BoolExpr>()->value ? "true" : "false";
    case ExprKind::Name: return expr.as<ast::NameExpr>()->name;
    case ExprKind::List: {
      std::string out = "[";
      const auto& elements = expr.as<ast::ListExpr>()->elements;
      for (size_t i = 0; i < elements.size(); ++i) out += (i > 0 ? ", " : "") + format_expr(*elements[i]);
      return out + "]";
    }
    case ExprKind::Unary: {
      const auto& unary = *expr.as<ast::UnaryExpr>();
      // `- -x` must not print as `--x`; `not` always needs its space.
      std::string operand = wrap(*unary.operand, kUnaryPrecedence);
      if (unary.op == ast::UnaryOp::Not) return "not " + operand;
      return operand[0] == '-' ? "-(" + operand + ")" : "-" + operand;
    }
    case ExprKind::Binary: {
      const auto& binary = *expr.as<ast::BinaryExpr>();
      int own = ast::binary_precedence(binary.op);
      bool right_assoc = binary.op == ast::BinaryOp::Pow;
      // Same-precedence operands keep their grouping: left-assoc ops parenthesise the right
      // side, `^` the left.
      std::string lhs = wrap(*binary.lhs, right_assoc ? own + 1 : own);
      std::string rhs = wrap(*binary.rhs, right_assoc ? own : own + 1);
      return fmt::format("{} {} {}", lhs, ast::binary_op_text(binary.op), rhs);
    }
    case ExprKind::Call: {
      const auto& call = *expr.as<ast::CallExpr>();
      return wrap(*call.callee, kPostfixPrecedence) + "(" + format_args(call.args) + ")";
    }
    case ExprKind::Member: {
      const auto& member = *expr.as<ast::MemberExpr>();
      return wrap(*member.object, kPostfixPrecedence) + "." + member.member;
    }
    case ExprKind::Index: {
      const auto& index = *expr.as<ast::IndexExpr>();
      return wrap(*index.object, kPostfixPrecedence) + "[" + format_expr(*index.index) + "]";
    }
  }
  return {};
}

std::string format_module(const ast::Module& module) { return Formatter().run(module); }

}  // namespace kmr::syntax
