// Lowers kernel bodies: let/measure/if/yield statements, element-wise calls, reductions and
// inlined kernel calls, into KIR nodes; comparisons with a quantile of the same value
// become rank comparisons, so ties are broken by position.
#include "compiler/lower/lowerer.h"

#include <algorithm>

#include <fmt/format.h>

#include "compiler/sema/builtins.h"
#include "compiler/sema/const_eval.h"

namespace kmr::lower {
namespace {

using diag::Code;
using kir::NodeRef;

constexpr size_t kMaxInlineDepth = 32;
constexpr size_t kMaxPaths = 4096;  // `if` lowers both branches with the rest of the block

std::optional<kir::UnaryOp> unary_function(const std::string& name) {
  static const std::map<std::string, kir::UnaryOp> table = {
      {"abs", kir::UnaryOp::Abs},   {"sqrt", kir::UnaryOp::Sqrt},   {"exp", kir::UnaryOp::Exp},
      {"log", kir::UnaryOp::Log},   {"sign", kir::UnaryOp::Sign},   {"round", kir::UnaryOp::Round},
      {"floor", kir::UnaryOp::Floor}, {"ceil", kir::UnaryOp::Ceil}};
  auto it = table.find(name);
  return it == table.end() ? std::nullopt : std::optional(it->second);
}

std::optional<kir::ReduceOp> reduce_function(const std::string& name) {
  static const std::map<std::string, kir::ReduceOp> table = {
      {"sum", kir::ReduceOp::Sum}, {"max", kir::ReduceOp::Max},     {"min", kir::ReduceOp::Min},
      {"mean", kir::ReduceOp::Mean}, {"count", kir::ReduceOp::Count}};
  auto it = table.find(name);
  return it == table.end() ? std::nullopt : std::optional(it->second);
}

kir::BinaryOp binary_op(ast::BinaryOp op) {
  switch (op) {
    case ast::BinaryOp::Pow: return kir::BinaryOp::Pow;
    case ast::BinaryOp::Mul: return kir::BinaryOp::Mul;
    case ast::BinaryOp::Div: return kir::BinaryOp::Div;
    case ast::BinaryOp::Add: return kir::BinaryOp::Add;
    case ast::BinaryOp::Sub: return kir::BinaryOp::Sub;
    case ast::BinaryOp::Lt: return kir::BinaryOp::Lt;
    case ast::BinaryOp::Le: return kir::BinaryOp::Le;
    case ast::BinaryOp::Gt: return kir::BinaryOp::Gt;
    case ast::BinaryOp::Ge: return kir::BinaryOp::Ge;
    case ast::BinaryOp::Eq: return kir::BinaryOp::Eq;
    case ast::BinaryOp::Ne: return kir::BinaryOp::Ne;
    case ast::BinaryOp::And: return kir::BinaryOp::And;
    case ast::BinaryOp::Or: return kir::BinaryOp::Or;
    case ast::BinaryOp::Pipe: break;
  }
  return kir::BinaryOp::Add;
}

// `t < x` is `x > t`: the comparison seen from the other operand.
kir::BinaryOp mirrored(kir::BinaryOp op) {
  switch (op) {
    case kir::BinaryOp::Lt: return kir::BinaryOp::Gt;
    case kir::BinaryOp::Le: return kir::BinaryOp::Ge;
    case kir::BinaryOp::Gt: return kir::BinaryOp::Lt;
    case kir::BinaryOp::Ge: return kir::BinaryOp::Le;
    default: return op;
  }
}

// Binds call arguments to named parameters: positional first, then by name. The checker
// reported any mismatch; here an unbindable argument is simply skipped.
std::vector<const ast::Expr*> bind(const std::vector<std::string>& params, const std::vector<ast::Arg>& args,
                                   size_t first) {
  std::vector<const ast::Expr*> bound(params.size(), nullptr);
  size_t positional = first;
  for (const auto& arg : args) {
    if (arg.name.empty()) {
      if (positional < params.size()) bound[positional] = arg.value.get();
      ++positional;
      continue;
    }
    auto it = std::find(params.begin(), params.end(), arg.name);
    if (it != params.end() && bound[it - params.begin()] == nullptr) bound[it - params.begin()] = arg.value.get();
  }
  return bound;
}

}  // namespace

double knob_default(const ast::KnobDecl& knob) {
  const ast::Expr* first = knob.default_value.get();
  if (!first && knob.domain.kind == ast::Domain::Kind::Range) first = knob.domain.lo.get();
  if (!first && knob.domain.kind == ast::Domain::Kind::Set && !knob.domain.values.empty())
    first = knob.domain.values.front().get();
  if (!first) return 0;
  auto value = sema::evaluate_constant(*first);
  return value ? (value->type == sema::Type::Bool ? (value->boolean ? 1 : 0) : value->number) : 0;
}

NodeRef Lowerer::fail(const source::Span& span, const std::string& message) {
  sink_.report(span, Code::bad_kernel, message);
  failed_ = true;
  return nullptr;
}

NodeRef Lowerer::check(Expected<NodeRef> node, const source::Span& span) {
  if (node) return std::move(node).value();
  return fail(span, node.error().message);
}

NodeRef Lowerer::as_number(NodeRef node, const source::Span& span) {
  if (!node || node->type != kir::ScalarType::Bool) return node;
  return check(kir::make_select(node, kir::make_const(1), kir::make_const(0)), span);
}

NodeRef Lowerer::as_bool(NodeRef node, const source::Span& span) {
  if (!node || node->type == kir::ScalarType::Bool) return node;
  return check(kir::make_binary(kir::BinaryOp::Ne, node, kir::make_const(0)), span);
}

int Lowerer::param_index(const std::string& name, const std::string& type, double value) {
  for (size_t i = 0; i < kernel_.params.size(); ++i)
    if (kernel_.params[i].name == name) return static_cast<int>(i);
  kernel_.params.push_back({name, type, value});
  return static_cast<int>(kernel_.params.size() - 1);
}

NodeRef Lowerer::global(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::Number: return kir::make_const(sema::literal_value(*e.as<ast::NumberExpr>()));
    case ast::ExprKind::Bool: return kir::make_const(e.as<ast::BoolExpr>()->value ? 1 : 0);
    case ast::ExprKind::Name: {
      const auto& name = e.as<ast::NameExpr>()->name;
      auto it = program_.symbols.find(name);
      if (it == program_.symbols.end() || it->second.kind != sema::SymbolKind::Knob)
        return fail(e.span, fmt::format("a rule's argument reads knobs and constants; '{}' is not a knob", name));
      const auto& knob = static_cast<const ast::KnobDecl&>(*it->second.decl);
      return check(kir::make_param(param_index(name, knob.type.name, knob_default(knob)), name), e.span);
    }
    case ast::ExprKind::Unary: {
      const auto& unary = *e.as<ast::UnaryExpr>();
      NodeRef operand = global(*unary.operand);
      if (!operand) return nullptr;
      if (unary.op == ast::UnaryOp::Not) return check(kir::make_unary(kir::UnaryOp::Not, as_bool(operand, e.span)), e.span);
      return check(kir::make_unary(kir::UnaryOp::Neg, as_number(operand, e.span)), e.span);
    }
    case ast::ExprKind::Binary: {
      const auto& binary = *e.as<ast::BinaryExpr>();
      NodeRef lhs = global(*binary.lhs), rhs = global(*binary.rhs);
      if (!lhs || !rhs) return nullptr;
      kir::BinaryOp op = binary_op(binary.op);
      if (kir::is_logic(op)) return check(kir::make_binary(op, as_bool(lhs, e.span), as_bool(rhs, e.span)), e.span);
      return check(kir::make_binary(op, as_number(lhs, e.span), as_number(rhs, e.span)), e.span);
    }
    default: return fail(e.span, "a rule's argument must be built from knobs, numbers and arithmetic");
  }
}

std::optional<std::vector<NodeRef>> Lowerer::bind_call(const ast::KernelDecl& decl, const std::vector<ast::Arg>& args,
                                                       size_t first, const Env* env, const source::Span& at) {
  std::vector<std::string> names;
  for (const auto& param : decl.params) names.push_back(param.name);
  auto bound = bind(names, args, first);
  std::vector<NodeRef> values(decl.params.size());
  for (size_t i = 1; i < decl.params.size(); ++i) {
    const ast::Expr* e = bound[i] ? bound[i] : decl.params[i].default_value.get();
    if (!e) {
      fail(at, fmt::format("no value for parameter '{}' of kernel '{}'", decl.params[i].name, decl.name));
      return std::nullopt;
    }
    // Defaults are constants of the callee, never names of the caller.
    values[i] = (env && bound[i]) ? expr(*e, *env) : global(*e);
    if (!values[i]) return std::nullopt;
    if (!values[i]->is_uniform() && decl.params[i].type.name != "tensor") {
      fail(e->span, fmt::format("parameter '{}' takes one number per tensor, not a value per element", names[i]));
      return std::nullopt;
    }
  }
  if (env && first == 0 && bound[0]) {
    values[0] = expr(*bound[0], *env);
    if (!values[0]) return std::nullopt;
  }
  return values;
}

const ast::KernelDecl* Lowerer::kernel_named(const std::string& name, const Env& env) const {
  if (env.count(name)) return nullptr;
  auto it = program_.symbols.find(name);
  if (it == program_.symbols.end() || it->second.kind != sema::SymbolKind::Kernel) return nullptr;
  return static_cast<const ast::KernelDecl*>(it->second.decl);
}

std::optional<Yielded> Lowerer::inline_kernel(const ast::KernelDecl& decl, const std::vector<NodeRef>& args,
                                              const std::string& prefix, const source::Span& at) {
  if (decl.is_native) {
    fail(at, fmt::format("kernel '{}' is native (implemented in C++) and cannot be inlined into KIR", decl.name));
    return std::nullopt;
  }
  if (std::find(calls_.begin(), calls_.end(), &decl) != calls_.end()) {
    fail(at, fmt::format("kernel '{}' calls itself; kernels cannot recurse", decl.name));
    return std::nullopt;
  }
  if (calls_.size() >= kMaxInlineDepth) {
    fail(at, fmt::format("kernel calls nest deeper than {} levels", kMaxInlineDepth));
    return std::nullopt;
  }
  if (args.size() != decl.params.size()) {
    fail(at, fmt::format("kernel '{}' takes {} arguments", decl.name, decl.params.size()));
    return std::nullopt;
  }
  Env env;
  for (size_t i = 0; i < args.size(); ++i) env[decl.params[i].name] = args[i];
  std::vector<const ast::Stmt*> body;
  for (const auto& stmt : decl.body) body.push_back(stmt.get());
  calls_.push_back(&decl);
  std::string saved = prefix_;
  prefix_ = prefix;
  auto result = lower_seq(std::move(body), std::move(env), {});
  prefix_ = saved;
  calls_.pop_back();
  return result;
}

std::optional<Yielded> Lowerer::lower_seq(std::vector<const ast::Stmt*> stmts, Env env,
                                          std::vector<kir::Measure> measures) {
  if (++paths_ > kMaxPaths) {
    fail(stmts.empty() ? source::Span{} : stmts.front()->span, "too many paths through `if` statements to lower");
    return std::nullopt;
  }
  for (size_t i = 0; i < stmts.size(); ++i) {
    const ast::Stmt& stmt = *stmts[i];
    switch (stmt.kind) {
      case ast::StmtKind::Let: {
        const auto& let = static_cast<const ast::BindStmt&>(stmt);
        NodeRef value = expr(*let.value, env);
        if (!value) return std::nullopt;
        env[let.name] = value;
        break;
      }
      case ast::StmtKind::Measure: {
        const auto& measure = static_cast<const ast::BindStmt&>(stmt);
        NodeRef value = as_number(expr(*measure.value, env), measure.value->span);
        if (!value) return std::nullopt;
        if (!value->is_uniform()) {
          fail(measure.value->span, "a measure is one number per tensor: reduce it with over = all");
          return std::nullopt;
        }
        measures.push_back({prefix_.empty() ? measure.name : prefix_ + "." + measure.name, value});
        break;
      }
      case ast::StmtKind::Yield: {
        auto yielded = yield_of(*static_cast<const ast::SimpleStmt&>(stmt).value, env);
        if (!yielded) return std::nullopt;
        yielded->measures.insert(yielded->measures.begin(), measures.begin(), measures.end());
        return yielded;
      }
      case ast::StmtKind::If: {
        const auto& branch = static_cast<const ast::IfStmt&>(stmt);
        NodeRef cond = as_bool(expr(*branch.condition, env), branch.condition->span);
        if (!cond) return std::nullopt;
        if (!cond->is_uniform()) {
          fail(branch.condition->span, "`if` decides per tensor: its condition must not vary per element or row");
          return std::nullopt;
        }
        std::vector<const ast::Stmt*> then_seq, else_seq;
        for (const auto& s : branch.then_block) then_seq.push_back(s.get());
        for (const auto& s : branch.else_block) else_seq.push_back(s.get());
        then_seq.insert(then_seq.end(), stmts.begin() + i + 1, stmts.end());
        else_seq.insert(else_seq.end(), stmts.begin() + i + 1, stmts.end());
        auto a = lower_seq(std::move(then_seq), env, measures);
        if (!a) return std::nullopt;
        auto b = lower_seq(std::move(else_seq), env, measures);
        if (!b) return std::nullopt;
        return merge(cond, std::move(*a), std::move(*b), stmt.span);
      }
      default: fail(stmt.span, "this statement is not allowed in a kernel"); return std::nullopt;
    }
  }
  fail(calls_.empty() ? source::Span{} : calls_.back()->name_span, "the kernel can finish without a `yield`");
  return std::nullopt;
}

std::optional<Yielded> Lowerer::merge(NodeRef cond, Yielded a, Yielded b, const source::Span& span) {
  if (a.kind != b.kind) {
    fail(span, "the branches yield different kinds of result");
    return std::nullopt;
  }
  auto pick = [&](const NodeRef& x, const NodeRef& y) -> NodeRef {
    if (!x && !y) return nullptr;
    NodeRef l = x ? x : kir::make_const(0), r = y ? y : kir::make_const(0);
    if (l == r) return l;
    return check(kir::make_select(cond, l, r), span);
  };
  Yielded out;
  out.kind = a.kind;
  out.value = pick(a.value, b.value);
  out.q = pick(a.q, b.q);
  out.scale = pick(a.scale, b.scale);
  out.zero = pick(a.zero, b.zero);
  out.bits = pick(a.bits, b.bits);
  // A measure taken on one path only is 0 on the others.
  std::vector<std::string> names;
  for (const auto* list : {&a.measures, &b.measures})
    for (const auto& m : *list)
      if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
  auto find = [](const std::vector<kir::Measure>& list, const std::string& name) -> NodeRef {
    for (const auto& m : list)
      if (m.name == name) return m.value;
    return nullptr;
  };
  for (const auto& name : names) out.measures.push_back({name, pick(find(a.measures, name), find(b.measures, name))});
  if (failed_) return std::nullopt;
  return out;
}

std::optional<Yielded> Lowerer::yield_of(const ast::Expr& e, const Env& env) {
  const auto* call = e.as<ast::CallExpr>();
  const auto* callee = call ? call->callee->as<ast::NameExpr>() : nullptr;
  if (callee && callee->name == "quantized" && !env.count("quantized")) {
    auto bound = bind({"q", "scale", "zero", "bits"}, call->args, 0);
    if (!bound[0] || !bound[1] || !bound[3]) {
      fail(e.span, "quantized(q, scale, zero?, bits) needs q, scale and bits");
      return std::nullopt;
    }
    Yielded out;
    out.kind = kir::ResultKind::Quantized;
    out.q = as_number(expr(*bound[0], env), e.span);
    out.scale = as_number(expr(*bound[1], env), e.span);
    out.zero = bound[2] ? as_number(expr(*bound[2], env), e.span) : nullptr;
    out.bits = as_number(expr(*bound[3], env), e.span);
    if (failed_) return std::nullopt;
    if (out.scale->is_element()) {
      fail(bound[1]->span, "a scale must be one number per group, row or tensor, not per element");
      return std::nullopt;
    }
    if (out.zero && !kir::same_level(out.zero->level, out.scale->level) && !kir::finer(out.scale->level, out.zero->level)) {
      fail(bound[2]->span, "a zero point cannot vary more finely than the scale");
      return std::nullopt;
    }
    if (!out.bits->is_uniform()) {
      fail(bound[3]->span, "bits must be one number per tensor");
      return std::nullopt;
    }
    return out;
  }
  if (callee) {
    if (const ast::KernelDecl* kernel = kernel_named(callee->name, env)) {
      auto args = bind_call(*kernel, call->args, 0, &env, e.span);
      if (!args) return std::nullopt;
      return inline_kernel(*kernel, *args, kernel->name, e.span);
    }
  }
  Yielded out;
  out.value = as_number(expr(e, env), e.span);
  if (!out.value) return std::nullopt;
  return out;
}

NodeRef Lowerer::expr(const ast::Expr& e, const Env& env) {
  switch (e.kind) {
    case ast::ExprKind::Number: return kir::make_const(sema::literal_value(*e.as<ast::NumberExpr>()));
    case ast::ExprKind::Bool: return kir::make_const(e.as<ast::BoolExpr>()->value ? 1 : 0, kir::ScalarType::Bool);
    case ast::ExprKind::Name: {
      auto it = env.find(e.as<ast::NameExpr>()->name);
      if (it == env.end()) return fail(e.span, fmt::format("'{}' is not a parameter or let of this kernel", e.as<ast::NameExpr>()->name));
      return it->second;
    }
    case ast::ExprKind::Unary: {
      const auto& unary = *e.as<ast::UnaryExpr>();
      NodeRef operand = expr(*unary.operand, env);
      if (!operand) return nullptr;
      if (unary.op == ast::UnaryOp::Not) return check(kir::make_unary(kir::UnaryOp::Not, as_bool(operand, e.span)), e.span);
      return check(kir::make_unary(kir::UnaryOp::Neg, as_number(operand, e.span)), e.span);
    }
    case ast::ExprKind::Binary: return binary(*e.as<ast::BinaryExpr>(), env);
    case ast::ExprKind::Call: return call(*e.as<ast::CallExpr>(), env);
    default: return fail(e.span, "this expression has no meaning inside a kernel");
  }
}

NodeRef Lowerer::binary(const ast::BinaryExpr& b, const Env& env) {
  NodeRef lhs = expr(*b.lhs, env), rhs = expr(*b.rhs, env);
  if (!lhs || !rhs) return nullptr;
  kir::BinaryOp op = binary_op(b.op);
  if (b.op == ast::BinaryOp::Pipe) return fail(b.span, "`|>` composes rules in pipelines, not values in kernels");
  if (kir::is_logic(op)) return check(kir::make_binary(op, as_bool(lhs, b.span), as_bool(rhs, b.span)), b.span);
  lhs = as_number(lhs, b.span);
  rhs = as_number(rhs, b.span);
  if (kir::is_comparison(op)) {
    // Comparing a value with a quantile of itself compares ranks: exact counts under ties.
    if (rhs->kind == kir::NodeKind::Quantile && kir::same_node(*lhs, rhs->operand(0)))
      return check(kir::make_rank_cmp(op, lhs, rhs), b.span);
    if (lhs->kind == kir::NodeKind::Quantile && kir::same_node(*rhs, lhs->operand(0)))
      return check(kir::make_rank_cmp(mirrored(op), rhs, lhs), b.span);
  }
  return check(kir::make_binary(op, lhs, rhs), b.span);
}

std::optional<kir::Grouping> Lowerer::grouping(const ast::Expr* over, const Env& env) {
  kir::Grouping g;
  if (!over) return g;
  if (const auto* name = over->as<ast::NameExpr>()) {
    if (name->name == "all") return g;
    if (name->name == "row") return kir::Grouping{kir::Grouping::Kind::Row, nullptr};
  }
  if (const auto* call = over->as<ast::CallExpr>(); call && call->args.size() == 1) {
    NodeRef size = as_number(expr(*call->args[0].value, env), over->span);
    if (!size) return std::nullopt;
    if (!size->is_uniform()) {
      fail(over->span, "a group size is one number per tensor");
      return std::nullopt;
    }
    if (size->kind == kir::NodeKind::Const && size->value == 0) return kir::Grouping{kir::Grouping::Kind::Row, nullptr};
    return kir::Grouping{kir::Grouping::Kind::Group, size};
  }
  fail(over->span, "`over` must be all, row or group(n)");
  return std::nullopt;
}

NodeRef Lowerer::call(const ast::CallExpr& c, const Env& env) {
  const auto* callee = c.callee->as<ast::NameExpr>();
  if (!callee) return fail(c.span, "only functions and kernels can be called in a kernel");
  const std::string& fn = callee->name;
  if (const ast::KernelDecl* kernel = kernel_named(fn, env)) {
    auto args = bind_call(*kernel, c.args, 0, &env, c.span);
    if (!args) return nullptr;
    auto yielded = inline_kernel(*kernel, *args, kernel->name, c.span);
    if (!yielded) return nullptr;
    if (yielded->kind != kir::ResultKind::Tensor)
      return fail(c.span, fmt::format("kernel '{}' yields quantized codes, which can only be yielded", fn));
    // The callee's measures are dropped here: only a yielded call keeps them (its result is the kernel's).
    return yielded->value;
  }
  bool reduction_form = fn == "sum" || fn == "mean" || fn == "count" || fn == "quantile" ||
                        ((fn == "min" || fn == "max") && c.args.size() == 1);
  for (const auto& arg : c.args) reduction_form |= arg.name == "over";
  const sema::Builtin* builtin =
      sema::find_builtin(fn, {reduction_form ? sema::BuiltinKind::Reduction : sema::BuiltinKind::Elementwise});
  if (!builtin) return fail(c.span, fmt::format("'{}' is not a kernel function", fn));
  std::vector<std::string> names;
  for (const auto& p : builtin->params) names.push_back(p.name);
  auto bound = bind(names, c.args, 0);
  std::vector<NodeRef> args(bound.size());
  for (size_t i = 0; i < bound.size(); ++i) {
    if (!bound[i] || names[i] == "over") continue;
    args[i] = expr(*bound[i], env);
    if (!args[i]) return nullptr;
  }
  for (size_t i = 0; i < bound.size(); ++i)
    if (builtin->params[i].required && !args[i] && names[i] != "over") return fail(c.span, fmt::format("'{}' misses '{}'", fn, names[i]));
  if (reduction_form) {
    auto over = grouping(bound.back(), env);
    if (!over) return nullptr;
    if (fn == "quantile") {
      NodeRef q = as_number(args[1], c.span);
      if (!q->is_uniform()) return fail(bound[1]->span, "a quantile's q is one number per tensor");
      return check(kir::make_quantile(as_number(args[0], c.span), q, *over), c.span);
    }
    auto op = reduce_function(fn);
    NodeRef x = op == kir::ReduceOp::Count ? args[0] : as_number(args[0], c.span);
    return check(kir::make_reduce(*op, x, *over), c.span);
  }
  if (auto op = unary_function(fn)) return check(kir::make_unary(*op, as_number(args[0], c.span)), c.span);
  if (fn == "min" || fn == "max")
    return check(kir::make_binary(fn == "min" ? kir::BinaryOp::Min : kir::BinaryOp::Max, as_number(args[0], c.span),
                                  as_number(args[1], c.span)),
                 c.span);
  if (fn == "clamp") {
    NodeRef low = check(kir::make_binary(kir::BinaryOp::Max, as_number(args[0], c.span), as_number(args[1], c.span)), c.span);
    return low ? check(kir::make_binary(kir::BinaryOp::Min, low, as_number(args[2], c.span)), c.span) : nullptr;
  }
  if (fn == "select")
    return check(kir::make_select(as_bool(args[0], c.span), as_number(args[1], c.span), as_number(args[2], c.span)), c.span);
  if (fn == "quantized") return fail(c.span, "a quantized(...) value can only be yielded");
  return fail(c.span, fmt::format("'{}' has no lowering to KIR", fn));
}

}  // namespace kmr::lower
