// The one translation unit that sees ANTLR: lexes and parses a file with the generated
// KMR parser, turns syntax errors into diagnostics, and builds our AST from the parse tree.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "KMRLexer.h"
#include "KMRParser.h"
#include "antlr4-runtime.h"
#include "compiler/syntax/parser.h"
#include "compiler/syntax/source_text_check.h"

namespace kmr::syntax {
namespace {

using G = kmr_grammar::KMRParser;
using L = kmr_grammar::KMRLexer;
using diag::Code;

size_t code_points(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

source::Span token_span(uint32_t file, const antlr4::Token* token) {
  if (token == nullptr || token->getType() == antlr4::Token::EOF) {
    uint32_t line = token ? static_cast<uint32_t>(token->getLine()) : 0;
    uint32_t col = token ? static_cast<uint32_t>(token->getCharPositionInLine()) + 1 : 0;
    return {file, line, col, line, col};
  }
  uint32_t line = static_cast<uint32_t>(token->getLine());
  uint32_t col = static_cast<uint32_t>(token->getCharPositionInLine()) + 1;
  uint32_t length = static_cast<uint32_t>(code_points(token->getText()));
  return {file, line, col, line, col + (length > 0 ? length - 1 : 0)};
}

// How a token is named in "expected ..." messages.
std::string token_display(const antlr4::dfa::Vocabulary& vocabulary, size_t type) {
  if (type == antlr4::Token::EOF) return "end of file";
  std::string literal = vocabulary.getLiteralName(type);
  if (!literal.empty()) return literal;
  switch (type) {
    case G::ID: return "a name";
    case G::INT: case G::FLOAT: return "a number";
    case G::STRING: case G::UNTERMINATED_STRING: return "a string";
    default: return vocabulary.getSymbolicName(type);
  }
}

std::string found_display(const antlr4::Token* token) {
  if (token == nullptr || token->getType() == antlr4::Token::EOF) return "end of file";
  return "'" + token->getText() + "'";
}

// Syntax errors in our words, positioned where a reader looks for the mistake: a missing
// token is reported just after the token it should follow, as C compilers do.
class ErrorStrategy : public antlr4::DefaultErrorStrategy {
 public:
  ErrorStrategy(uint32_t file, diag::DiagnosticSink& sink) : file_(file), sink_(sink) {}

 protected:
  void reportNoViableAlternative(antlr4::Parser* parser, const antlr4::NoViableAltException& e) override {
    report(e.getOffendingToken(), "unexpected " + found_display(e.getOffendingToken()) + context(parser));
  }
  void reportInputMismatch(antlr4::Parser* parser, const antlr4::InputMismatchException& e) override {
    report(e.getOffendingToken(), "expected " + expected(parser, e.getExpectedTokens()) +
                                      ", found " + found_display(e.getOffendingToken()));
  }
  void reportFailedPredicate(antlr4::Parser* parser, const antlr4::FailedPredicateException& e) override {
    report(e.getOffendingToken(), "unexpected " + found_display(e.getOffendingToken()));
  }
  void reportUnwantedToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    antlr4::Token* token = parser->getCurrentToken();
    report(token, "unexpected " + found_display(token) + "; expected " +
                      expected(parser, getExpectedTokens(parser)));
  }
  void reportMissingToken(antlr4::Parser* parser) override {
    if (inErrorRecoveryMode(parser)) return;
    beginErrorCondition(parser);
    antlr4::Token* previous = parser->getTokenStream()->LT(-1);
    antlr4::Token* current = parser->getCurrentToken();
    std::string message = "expected " + expected(parser, getExpectedTokens(parser));
    if (previous == nullptr) {
      report(current, message + " before " + found_display(current));
      return;
    }
    source::Span after = token_span(file_, previous);
    after.col = after.end_col + 1;
    after.end_col = after.col;
    sink_.add(after, Code::syntax, message + " after '" + previous->getText() + "'");
  }

 private:
  std::string expected(antlr4::Parser* parser, const antlr4::misc::IntervalSet& set) const {
    auto tokens = set.toList();
    const auto& vocabulary = parser->getVocabulary();
    bool expression = false, declaration = false;
    for (size_t type : tokens) {
      expression |= type == G::INT;
      declaration |= vocabulary.getLiteralName(type) == "'rule'";  // ('knob' may also name an argument)
    }
    if (declaration && tokens.size() > 6) return "a declaration";
    if (expression && tokens.size() > 6) return "an expression";
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += i + 1 == tokens.size() ? " or " : ", ";
      out += token_display(vocabulary, tokens[i]);
    }
    return out.empty() ? "something else" : out;
  }
  static std::string context(antlr4::Parser* parser) {
    auto* ctx = parser->getContext();
    if (ctx == nullptr) return "";
    switch (ctx->getRuleIndex()) {
      case G::RuleDecl: case G::RuleProgram: return " at the start of a declaration";
      case G::RuleStmt: case G::RuleBlock: return " at the start of a statement";
      case G::RuleExpr: return " in an expression";
      default: return "";
    }
  }
  void report(const antlr4::Token* token, std::string message) {
    sink_.add(token_span(file_, token), Code::syntax, std::move(message));
  }

  uint32_t file_;
  diag::DiagnosticSink& sink_;
};

// Lexer errors cannot happen (BAD_CHAR matches anything), but ANTLR's default listener
// would print to stderr: replace it with a silent one.
class SilentListener : public antlr4::BaseErrorListener {};

class AstBuilder {
 public:
  AstBuilder(uint32_t file, diag::DiagnosticSink& sink, const std::vector<antlr4::Token*>& tokens)
      : file_(file), sink_(sink), tokens_(tokens) {
    for (antlr4::Token* token : tokens)
      if (token->getType() == G::LINE_COMMENT || token->getType() == G::BLOCK_COMMENT) comments_.push_back(token);
  }

  // program : (importDecl | decl)* EOF ;
  ast::Module build_program(G::ProgramContext* ctx) {
    ast::Module module;
    module.file = file_;
    for (auto* child : ctx->children) {
      if (auto* import = dynamic_cast<G::ImportDeclContext*>(child)) {
        auto comments = leading_comments(import->getStart());
        module.decls.push_back(build_import(import));
        attach(*module.decls.back(), std::move(comments), import->getStop());
      } else if (auto* decl = dynamic_cast<G::DeclContext*>(child)) {
        // Comments before the declaration's first token must not be taken by its parts.
        auto comments = leading_comments(decl->getStart());
        if (auto built = build_decl_body(decl)) {
          module.decls.push_back(std::move(built));
          attach(*module.decls.back(), std::move(comments), decl->getStop());
        }
      }
    }
    module.end_comments = take_comments_before(SIZE_MAX);
    return module;
  }

 private:
  source::Span span(antlr4::ParserRuleContext* ctx) const {
    source::Span first = token_span(file_, ctx->getStart());
    const antlr4::Token* stop = ctx->getStop();
    if (stop == nullptr || stop->getTokenIndex() < ctx->getStart()->getTokenIndex()) return first;
    return source::Span::cover(first, token_span(file_, stop));
  }
  source::Span span(const antlr4::Token* token) const { return token_span(file_, token); }

  // Comments between the previous node and this one lead it; a comment that starts on the
  // line where the node ends trails it.
  // An empty string stands for a blank line after a comment, so the formatter keeps a
  // header comment apart from the declaration below it.
  std::vector<std::string> take_comments_before(size_t token_index) {
    std::vector<std::string> out;
    while (next_comment_ < comments_.size() && comments_[next_comment_]->getTokenIndex() < token_index) {
      const antlr4::Token* comment = comments_[next_comment_++];
      out.push_back(comment->getText());
      size_t next = comment->getTokenIndex() + 1;
      if (next < tokens_.size() && tokens_[next]->getLine() > end_line(comment) + 1 && next <= token_index) out.push_back("");
    }
    return out;
  }
  static size_t end_line(const antlr4::Token* token) {
    const std::string text = token->getText();
    return token->getLine() + std::count(text.begin(), text.end(), '\n');
  }
  std::string take_trailing_comment(const antlr4::Token* stop) {
    if (stop == nullptr || next_comment_ >= comments_.size()) return {};
    const antlr4::Token* comment = comments_[next_comment_];
    if (comment->getLine() != stop->getLine() || comment->getTokenIndex() < stop->getTokenIndex()) return {};
    ++next_comment_;
    return comment->getText();
  }
  // The comments before `start`, and whether a blank line precedes them (or it).
  ast::Comments leading_comments(antlr4::Token* start) {
    ast::Comments comments;
    size_t first_comment = next_comment_;
    comments.leading = take_comments_before(start->getTokenIndex());
    size_t first = first_comment < next_comment_ ? comments_[first_comment]->getTokenIndex() : start->getTokenIndex();
    if (first > 0) {
      comments.blank_line_before = tokens_[first]->getLine() > end_line(tokens_[first - 1]) + 1;
    }
    return comments;
  }
  template <class Node>
  void attach(Node& node, ast::Comments comments, const antlr4::Token* stop) {
    // Comments between the node's own tokens (inside an expression) have no place of their
    // own in the formatted node: they lead it, rather than drifting to the next node.
    if (stop != nullptr)
      for (auto& inner : take_comments_before(stop->getTokenIndex())) comments.leading.push_back(std::move(inner));
    comments.trailing = take_trailing_comment(stop);
    node.comments = std::move(comments);
  }

  // importDecl : 'import' stringLit ';' ;
  ast::DeclPtr build_import(G::ImportDeclContext* ctx) {
    auto decl = std::make_unique<ast::ImportDecl>(span(ctx));
    decl->name = string_value(ctx->stringLit());
    decl->name_span = span(ctx->stringLit());
    return decl;
  }

  ast::DeclPtr build_decl_body(G::DeclContext* ctx) {
    if (auto* c = dynamic_cast<G::ModelDeclContext*>(ctx)) return value_decl(ast::DeclKind::Model, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::DataDeclContext*>(ctx)) return value_decl(ast::DeclKind::Data, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::PipelineDeclContext*>(ctx)) return value_decl(ast::DeclKind::Pipeline, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::KnobDeclContext*>(ctx)) return build_knob(c);
    if (auto* c = dynamic_cast<G::RuleDeclContext*>(ctx)) return build_rule(c);
    if (auto* c = dynamic_cast<G::KernelDeclContext*>(ctx)) return build_kernel(c);
    if (auto* c = dynamic_cast<G::MeterDeclContext*>(ctx)) return build_meter(c);
    if (auto* c = dynamic_cast<G::BudgetDeclContext*>(ctx)) return constraint(ast::DeclKind::Budget, c, c->expr());
    if (auto* c = dynamic_cast<G::RequireDeclContext*>(ctx)) return constraint(ast::DeclKind::Require, c, c->expr());
    if (auto* c = dynamic_cast<G::ObjectiveDeclContext*>(ctx)) {
      auto decl = constraint(ast::DeclKind::Objective, c, c->expr());
      static_cast<ast::ConstraintDecl&>(*decl).maximize = c->direction->getText() == "maximize";
      return decl;
    }
    if (auto* c = dynamic_cast<G::BuiltinPolicyDeclContext*>(ctx)) {
      auto decl = named<ast::PolicyDecl>(c, c->name);
      if (c->args()) decl->args = build_args(c->args());
      return decl;
    }
    if (auto* c = dynamic_cast<G::ScriptedPolicyDeclContext*>(ctx)) {
      auto decl = named<ast::PolicyDecl>(c, c->name);
      decl->is_scripted = true;
      decl->body = build_block(c->block(), decl->end_comments);
      return decl;
    }
    if (auto* c = dynamic_cast<G::SaveDeclContext*>(ctx)) {
      auto decl = std::make_unique<ast::OutputDecl>(ast::DeclKind::Save, span(c));
      decl->model = build_expr(c->expr());
      decl->path = string_value(c->stringLit());
      decl->path_span = span(c->stringLit());
      return decl;
    }
    if (auto* c = dynamic_cast<G::ReportDeclContext*>(ctx)) {
      auto decl = std::make_unique<ast::OutputDecl>(ast::DeclKind::Report, span(c));
      decl->path = string_value(c->stringLit());
      decl->path_span = span(c->stringLit());
      return decl;
    }
    return nullptr;
  }

  template <class Node>
  std::unique_ptr<Node> named(antlr4::ParserRuleContext* ctx, antlr4::Token* name) {
    auto decl = std::make_unique<Node>(span(ctx));
    decl->name = name->getText();
    decl->name_span = span(name);
    return decl;
  }

  // 'model' | 'data' | 'pipeline' name=ID '=' expr ';'
  ast::DeclPtr value_decl(ast::DeclKind kind, antlr4::ParserRuleContext* ctx, antlr4::Token* name,
                          G::ExprContext* value) {
    auto decl = std::make_unique<ast::ValueDecl>(kind, span(ctx));
    decl->name = name->getText();
    decl->name_span = span(name);
    decl->value = build_expr(value);
    return decl;
  }

  // 'budget' | 'require' | 'objective' ... expr ';'
  ast::DeclPtr constraint(ast::DeclKind kind, antlr4::ParserRuleContext* ctx, G::ExprContext* expr) {
    auto decl = std::make_unique<ast::ConstraintDecl>(kind, span(ctx));
    decl->expr = build_expr(expr);
    return decl;
  }

  // 'knob' name=ID knobIndex? ':' typeRef domain? ('=' init=expr)? ';'
  ast::DeclPtr build_knob(G::KnobDeclContext* ctx) {
    auto decl = named<ast::KnobDecl>(ctx, ctx->name);
    if (auto* index = ctx->knobIndex()) {
      decl->index_var = index->var->getText();
      decl->index_var_span = span(index->var);
      decl->index_selection = build_expr(index->expr());
    }
    decl->type = build_type(ctx->typeRef());
    if (auto* domain = ctx->domain()) decl->domain = build_domain(domain);
    if (ctx->init) decl->default_value = build_expr(ctx->init);
    return decl;
  }

  // domain : 'in' '[' lo ',' hi ']' ('step' expr)? | 'in' '{' expr (',' expr)* '}'
  ast::Domain build_domain(G::DomainContext* ctx) {
    ast::Domain domain;
    domain.span = span(ctx);
    if (auto* range = dynamic_cast<G::RangeDomainContext*>(ctx)) {
      domain.kind = ast::Domain::Kind::Range;
      domain.lo = build_expr(range->lo);
      domain.hi = build_expr(range->hi);
      if (range->stepBy) domain.step = build_expr(range->stepBy);
    } else if (auto* set = dynamic_cast<G::SetDomainContext*>(ctx)) {
      domain.kind = ast::Domain::Kind::Set;
      for (auto* value : set->expr()) domain.values.push_back(build_expr(value));
    }
    return domain;
  }

  // typeRef : ID | 'model' | 'data' ;
  ast::TypeRef build_type(G::TypeRefContext* ctx) { return {ctx->getText(), span(ctx)}; }

  // 'rule' name=ID '=' expr ('on' target=expr)? ';'
  ast::DeclPtr build_rule(G::RuleDeclContext* ctx) {
    auto decl = named<ast::RuleDecl>(ctx, ctx->name);
    decl->call = build_expr(ctx->expr(0));
    if (ctx->target) decl->target = build_expr(ctx->target);
    return decl;
  }

  // 'native'? 'kernel' name=ID '(' params? ')' '->' typeRef (block | ';')
  ast::DeclPtr build_kernel(G::KernelDeclContext* ctx) {
    auto decl = named<ast::KernelDecl>(ctx, ctx->name);
    decl->is_native = ctx->getStart()->getText() == "native";
    if (auto* params = ctx->params()) {
      for (auto* p : params->param()) {
        ast::Param param;
        param.name = p->argName()->getText();
        param.name_span = span(p->argName());
        param.type = build_type(p->typeRef());
        if (p->expr()) param.default_value = build_expr(p->expr());
        decl->params.push_back(std::move(param));
      }
    }
    decl->result = build_type(ctx->typeRef());
    if (ctx->block()) decl->body = build_block(ctx->block(), decl->end_comments);
    return decl;
  }

  // 'meter' name=ID ':' typeRef '=' expr ';'
  ast::DeclPtr build_meter(G::MeterDeclContext* ctx) {
    auto decl = named<ast::MeterDecl>(ctx, ctx->name);
    decl->type = build_type(ctx->typeRef());
    decl->value = build_expr(ctx->expr());
    return decl;
  }

  // block : '{' stmt* '}' ;
  ast::Block build_block(G::BlockContext* ctx, std::vector<std::string>& end_comments) {
    ast::Block block;
    for (auto* stmt : ctx->stmt()) {
      auto comments = leading_comments(stmt->getStart());
      block.push_back(build_stmt(stmt));
      attach(*block.back(), std::move(comments), stmt->getStop());
    }
    end_comments = take_comments_before(ctx->getStop()->getTokenIndex());
    return block;
  }

  ast::StmtPtr build_stmt(G::StmtContext* ctx) {
    if (auto* c = dynamic_cast<G::LetStmtContext*>(ctx)) return bind(ast::StmtKind::Let, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::SetStmtContext*>(ctx)) return bind(ast::StmtKind::Set, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::MeasureStmtContext*>(ctx)) return bind(ast::StmtKind::Measure, c, c->name, c->expr());
    if (auto* c = dynamic_cast<G::StepStmtContext*>(ctx)) {
      auto stmt = std::make_unique<ast::StepStmt>(span(c));
      stmt->name = c->name->getText();
      stmt->name_span = span(c->name);
      stmt->amount = build_expr(c->expr());
      return stmt;
    }
    if (auto* c = dynamic_cast<G::IfStatementContext*>(ctx)) return build_if(c->ifStmt());
    if (auto* c = dynamic_cast<G::WhileStmtContext*>(ctx)) {
      auto stmt = std::make_unique<ast::WhileStmt>(span(c));
      stmt->condition = build_expr(c->expr());
      stmt->body = build_block(c->block(), stmt->end_comments);
      return stmt;
    }
    if (auto* c = dynamic_cast<G::ForStmtContext*>(ctx)) {
      auto stmt = std::make_unique<ast::ForStmt>(span(c));
      stmt->var = c->var->getText();
      stmt->var_span = span(c->var);
      stmt->iterable = build_expr(c->expr());
      stmt->body = build_block(c->block(), stmt->end_comments);
      return stmt;
    }
    if (auto* c = dynamic_cast<G::YieldStmtContext*>(ctx)) {
      auto stmt = std::make_unique<ast::SimpleStmt>(ast::StmtKind::Yield, span(c));
      stmt->value = build_expr(c->expr());
      return stmt;
    }
    auto kind = dynamic_cast<G::AcceptStmtContext*>(ctx) ? ast::StmtKind::Accept : ast::StmtKind::Reject;
    return std::make_unique<ast::SimpleStmt>(kind, span(ctx));
  }

  ast::StmtPtr bind(ast::StmtKind kind, antlr4::ParserRuleContext* ctx, antlr4::Token* name, G::ExprContext* value) {
    auto stmt = std::make_unique<ast::BindStmt>(kind, span(ctx));
    stmt->name = name->getText();
    stmt->name_span = span(name);
    stmt->value = build_expr(value);
    return stmt;
  }

  // ifStmt : 'if' expr block ('else' (elseIf=ifStmt | elseBlock=block))? ;
  ast::StmtPtr build_if(G::IfStmtContext* ctx) {
    auto stmt = std::make_unique<ast::IfStmt>(span(ctx));
    stmt->condition = build_expr(ctx->expr());
    stmt->then_block = build_block(ctx->block(0), stmt->then_end_comments);
    if (ctx->elseIf) {
      stmt->has_else = true;
      auto nested = build_if(ctx->elseIf);
      static_cast<ast::IfStmt&>(*nested).is_else_if = true;
      stmt->else_block.push_back(std::move(nested));
    } else if (ctx->elseBlock) {
      stmt->has_else = true;
      stmt->else_block = build_block(ctx->elseBlock, stmt->else_end_comments);
    }
    return stmt;
  }

  // args : arg (',' arg)* ','? ;   arg : (argName '=')? expr ;
  std::vector<ast::Arg> build_args(G::ArgsContext* ctx) {
    std::vector<ast::Arg> args;
    for (auto* a : ctx->arg()) {
      ast::Arg arg;
      if (a->argName()) {
        arg.name = a->argName()->getText();
        arg.name_span = span(a->argName());
      }
      arg.value = build_expr(a->expr());
      args.push_back(std::move(arg));
    }
    return args;
  }

  ast::ExprPtr build_expr(G::ExprContext* ctx) {
    if (auto* c = dynamic_cast<G::ParenExprContext*>(ctx)) {
      auto inner = build_expr(c->expr());
      inner->span = span(c);  // the parentheses belong to the expression's extent
      return inner;
    }
    if (auto* c = dynamic_cast<G::NumberExprContext*>(ctx)) return build_number(c);
    if (auto* c = dynamic_cast<G::StringExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::StringExpr>(span(c));
      expr->value = string_value(c->stringLit());
      return expr;
    }
    if (auto* c = dynamic_cast<G::BoolExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::BoolExpr>(span(c));
      expr->value = c->value->getText() == "true";
      return expr;
    }
    if (auto* c = dynamic_cast<G::NameExprContext*>(ctx)) return name_expr(c->ID()->getSymbol());
    if (auto* c = dynamic_cast<G::ListExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::ListExpr>(span(c));
      for (auto* element : c->expr()) expr->elements.push_back(build_expr(element));
      return expr;
    }
    if (auto* c = dynamic_cast<G::UnaryExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::UnaryExpr>(span(c));
      expr->op = c->op->getText() == "-" ? ast::UnaryOp::Neg : ast::UnaryOp::Not;
      expr->operand = build_expr(c->expr());
      return expr;
    }
    if (auto* c = dynamic_cast<G::BinaryExprContext*>(ctx)) return build_binary(c);
    if (auto* c = dynamic_cast<G::CallExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::CallExpr>(span(c));
      expr->callee = build_expr(c->expr());
      if (c->args()) expr->args = build_args(c->args());
      return expr;
    }
    if (auto* c = dynamic_cast<G::MeasureCallExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::CallExpr>(span(c));
      expr->callee = name_expr(c->getStart());
      if (c->args()) expr->args = build_args(c->args());
      return expr;
    }
    if (auto* c = dynamic_cast<G::MemberExprContext*>(ctx)) {
      auto expr = std::make_unique<ast::MemberExpr>(span(c));
      expr->object = build_expr(c->expr());
      expr->member = c->member->getText();
      expr->member_span = span(c->member);
      return expr;
    }
    auto* c = dynamic_cast<G::IndexExprContext*>(ctx);
    auto expr = std::make_unique<ast::IndexExpr>(span(c));
    expr->object = build_expr(c->expr(0));
    expr->index = build_expr(c->expr(1));
    return expr;
  }

  ast::ExprPtr name_expr(antlr4::Token* token) {
    auto expr = std::make_unique<ast::NameExpr>(span(token));
    expr->name = token->getText();
    return expr;
  }

  ast::ExprPtr build_binary(G::BinaryExprContext* ctx) {
    static const std::pair<const char*, ast::BinaryOp> kOps[] = {
        {"^", ast::BinaryOp::Pow}, {"*", ast::BinaryOp::Mul},  {"/", ast::BinaryOp::Div},
        {"+", ast::BinaryOp::Add}, {"-", ast::BinaryOp::Sub},  {"<", ast::BinaryOp::Lt},
        {"<=", ast::BinaryOp::Le}, {">", ast::BinaryOp::Gt},   {">=", ast::BinaryOp::Ge},
        {"==", ast::BinaryOp::Eq}, {"!=", ast::BinaryOp::Ne},  {"and", ast::BinaryOp::And},
        {"or", ast::BinaryOp::Or}, {"|>", ast::BinaryOp::Pipe}};
    auto expr = std::make_unique<ast::BinaryExpr>(span(ctx));
    std::string op = ctx->op->getText();
    for (const auto& [text, value] : kOps)
      if (op == text) expr->op = value;
    expr->op_span = span(ctx->op);
    expr->lhs = build_expr(ctx->expr(0));
    expr->rhs = build_expr(ctx->expr(1));
    return expr;
  }

  // number unit=(ID | '%')?
  ast::ExprPtr build_number(G::NumberExprContext* ctx) {
    auto expr = std::make_unique<ast::NumberExpr>(span(ctx));
    antlr4::Token* literal = ctx->number()->getStart();
    expr->text = literal->getText();
    expr->is_float = literal->getType() == G::FLOAT;
    errno = 0;
    if (expr->is_float) {
      expr->float_value = std::strtod(expr->text.c_str(), nullptr);
      if (errno == ERANGE && std::isinf(expr->float_value)) sink_.report(span(literal), Code::number_overflow, expr->text);
    } else {
      long long value = std::strtoll(expr->text.c_str(), nullptr, 10);
      if (errno == ERANGE) sink_.report(span(literal), Code::number_overflow, expr->text);
      expr->int_value = value;
      expr->float_value = static_cast<double>(value);
    }
    if (ctx->unit) {
      expr->unit_span = span(ctx->unit);
      if (auto unit = ast::unit_from_name(ctx->unit->getText()))
        expr->unit = *unit;
      else
        sink_.report(expr->unit_span, Code::unknown_unit, ctx->unit->getText());
    }
    return expr;
  }

  // stringLit : STRING | UNTERMINATED_STRING ; the value with escapes decoded.
  std::string string_value(G::StringLitContext* ctx) {
    antlr4::Token* token = ctx->getStart();
    std::string text = token->getText();
    bool terminated = token->getType() == G::STRING;  // check_tokens reported the others
    std::string value;
    size_t end = terminated ? text.size() - 1 : text.size();
    for (size_t i = 1; i < end; ++i) {
      if (text[i] != '\\' || i + 1 >= end) {
        if (text[i] != '\\') value += text[i];
        continue;
      }
      char escaped = text[++i];
      switch (escaped) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case '\\': case '"': value += escaped; break;
        default: {
          auto where = span(token);
          where.col += static_cast<uint32_t>(code_points(text.substr(0, i - 1)));
          where.end_col = where.col + 1;
          sink_.report(where, Code::bad_escape, std::string(1, escaped));
        }
      }
    }
    return value;
  }

  uint32_t file_;
  diag::DiagnosticSink& sink_;
  const std::vector<antlr4::Token*>& tokens_;
  std::vector<antlr4::Token*> comments_;
  size_t next_comment_ = 0;
};

bool is_opening(const std::string& text) { return text == "(" || text == "[" || text == "{"; }
bool is_closing(const std::string& text) { return text == ")" || text == "]" || text == "}"; }
// Tokens that deepen the parse tree without opening a bracket that closes the level again:
// operators, and the postfix `.`, `(` and `[` of member, call and index chains.
bool is_operator(size_t type, const std::string& text) {
  static const char* kOperators[] = {"^", "*", "/", "+", "-", "<", "<=", ">", ">=", "==", "!=",
                                     "and", "or", "not", "|>", ".", "(", "["};
  if (type == G::ID || type == G::INT || type == G::FLOAT) return false;
  for (const char* op : kOperators)
    if (text == op) return true;
  return false;
}

// Reports what the lexer let through (bad characters, open strings and comments) and
// refuses input whose nesting, operator chains or `else if` chains would make the
// recursive parser and the tree walkers run out of stack. Returns false when parsing must
// not start.
bool check_tokens(const std::vector<antlr4::Token*>& tokens, uint32_t file, const ParseLimits& limits,
                  diag::DiagnosticSink& sink) {
  int operators = 0;
  std::vector<int> else_if_chain{0};  // per bracket depth: `else if` links in the current chain
  bool parse = true;
  std::string previous;
  for (antlr4::Token* token : tokens) {
    size_t type = token->getType();
    std::string text = token->getText();
    if (type == G::BAD_CHAR) {
      sink.report(token_span(file, token), Code::bad_character, text);
    } else if (type == G::UNTERMINATED_STRING) {
      sink.report(token_span(file, token), Code::unterminated_string);
    } else if (type == G::BLOCK_COMMENT && (text.size() < 4 || text.compare(text.size() - 2, 2, "*/") != 0)) {
      source::Span start = token_span(file, token);
      start.end_col = start.col + 1;
      sink.report(start, Code::unterminated_comment);
    }
    if (token->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
    if (!parse) continue;
    if (is_opening(text)) {
      else_if_chain.push_back(0);
      if (static_cast<int>(else_if_chain.size()) - 1 > limits.max_nesting) {
        sink.report(token_span(file, token), Code::too_deep, "brackets", limits.max_nesting);
        parse = false;
      }
    } else if (is_closing(text) && else_if_chain.size() > 1) {
      else_if_chain.pop_back();
    }
    if (text == ";") operators = 0;
    if (is_operator(type, text) && ++operators > limits.max_operators) {
      sink.report(token_span(file, token), Code::too_long, limits.max_operators);
      parse = false;
    }
    if (text == "if") {
      int& chain = else_if_chain.back();
      chain = previous == "else" ? chain + 1 : 0;
      if (chain > limits.max_operators) {
        sink.report(token_span(file, token), Code::too_deep, "`else if` chains", limits.max_operators);
        parse = false;
      }
    }
    previous = text;
  }
  return parse;
}

}  // namespace

ast::Module parse_module(const source::SourceManager& sources, uint32_t file, diag::DiagnosticSink& sink,
                         const ParseLimits& limits) {
  ast::Module empty;
  empty.file = file;
  const std::string& text = sources.file(file).text;
  if (!check_source_text(text, file, limits.max_bytes, sink)) return empty;

  antlr4::ANTLRInputStream input(text);
  L lexer(&input);
  SilentListener silent;
  lexer.removeErrorListeners();
  lexer.addErrorListener(&silent);
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();

  size_t errors_before = sink.error_count();
  if (!check_tokens(tokens.getTokens(), file, limits, sink)) return empty;

  // Two-stage parsing, as ANTLR advises: SLL prediction is cheaper and, when it succeeds,
  // builds the same tree as LL; when it fails, the file is parsed again with full LL and
  // our error recovery, so that every syntax error is reported.
  G parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&silent);
  parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::SLL);
  parser.setErrorHandler(std::make_shared<antlr4::BailErrorStrategy>());
  G::ProgramContext* tree = nullptr;
  try {
    tree = parser.program();
  } catch (const antlr4::ParseCancellationException&) {
    tokens.seek(0);
    parser.reset();
    parser.getInterpreter<antlr4::atn::ParserATNSimulator>()->setPredictionMode(antlr4::atn::PredictionMode::LL);
    parser.setErrorHandler(std::make_shared<ErrorStrategy>(file, sink));
    tree = parser.program();
  }
  if (sink.error_count() > errors_before) return empty;
  return AstBuilder(file, sink, tokens.getTokens()).build_program(tree);
}

}  // namespace kmr::syntax
