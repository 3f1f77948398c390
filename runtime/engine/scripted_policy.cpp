// A tree-walking interpreter of policy statements; values are numbers (bools as 0/1) or
// lists of numbers.
#include "runtime/engine/scripted_policy.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "compiler/syntax/formatter.h"

namespace kmr::engine {
namespace {

struct Value {
  double number = 0;
  std::vector<double> list;
  bool is_list = false;
};

enum class Flow { Next, Accept, Reject };

size_t value_bytes(size_t list_elements) { return sizeof(Value) + list_elements * sizeof(double); }

size_t trial_bytes(const TrialResult& trial) {
  size_t bytes = sizeof(TrialResult) + trial.config.size() * sizeof(size_t);
  for (const auto& [name, value] : trial.meters) bytes += sizeof(std::pair<std::string, double>) + name.size();
  for (const auto& constraint : trial.constraints) bytes += sizeof(ConstraintResult) + constraint.text.size();
  return bytes;
}

class PolicyInterpreter {
 public:
  PolicyInterpreter(const ast::PolicyDecl& policy, TrialEvaluator& evaluator, const KnobSpace& space,
                    const SearchLimits& limits, bool maximize)
      : policy_(policy), space_(space), limits_(limits), log_(evaluator, limits, maximize), config_(space.defaults()) {}

  Expected<SearchOutcome> run() {
    auto flow = block(policy_.body);
    if (!flow) return flow.error();
    if (*flow == Flow::Next) return log_.finish();
    SearchOutcome outcome = log_.finish();
    outcome.chosen.reset();
    if (*flow == Flow::Reject) {
      outcome.notes.push_back(fmt::format("policy '{}' rejected every configuration", policy_.name));
      return outcome;
    }
    for (size_t i = 0; i < outcome.trials.size(); ++i)
      if (outcome.trials[i].config == config_) outcome.chosen = i;
    if (outcome.chosen && !outcome.trials[*outcome.chosen].feasible) {
      outcome.notes.push_back(fmt::format("policy '{}' accepted a configuration that misses its constraints", policy_.name));
      outcome.chosen.reset();
    }
    return outcome;
  }

 private:
  Error error_at(const source::Span& span, const std::string& message) const {
    return Error{fmt::format("policy '{}', line {}: {}", policy_.name, span.line, message)};
  }

  Expected<Flow> block(const ast::Block& statements) {
    for (const auto& stmt : statements) {
      auto flow = statement(*stmt);
      if (!flow || *flow != Flow::Next) return flow;
    }
    return Flow::Next;
  }

  Expected<Flow> statement(const ast::Stmt& stmt) {
    if (++executed_ > limits_.fuel)
      return error_at(stmt.span, fmt::format("ran out of fuel after {} statements (a loop that never ends?)", limits_.fuel));
    if (auto status = check_memory(stmt.span, 0); !status) return status.error();
    switch (stmt.kind) {
      case ast::StmtKind::Let: {
        const auto& let = static_cast<const ast::BindStmt&>(stmt);
        auto value = eval(*let.value);
        if (!value) return value.error();
        locals_[let.name] = *value;
        return Flow::Next;
      }
      case ast::StmtKind::Set: {
        const auto& set = static_cast<const ast::BindStmt&>(stmt);
        auto value = eval(*set.value);
        if (!value) return value.error();
        if (auto status = assign(set.name, value->number, stmt.span); !status) return status.error();
        return Flow::Next;
      }
      case ast::StmtKind::Step: {
        const auto& step = static_cast<const ast::StepStmt&>(stmt);
        auto amount = eval(*step.amount);
        if (!amount) return amount.error();
        if (auto status = assign(step.name, knob_value(step.name) + amount->number, stmt.span); !status)
          return status.error();
        return Flow::Next;
      }
      case ast::StmtKind::If: {
        const auto& branch = static_cast<const ast::IfStmt&>(stmt);
        auto condition = eval(*branch.condition);
        if (!condition) return condition.error();
        return block(condition->number != 0 ? branch.then_block : branch.else_block);
      }
      case ast::StmtKind::While: {
        const auto& loop = static_cast<const ast::WhileStmt&>(stmt);
        while (true) {
          auto condition = eval(*loop.condition);
          if (!condition) return condition.error();
          if (condition->number == 0) return Flow::Next;
          if (++executed_ > limits_.fuel)
            return error_at(stmt.span, fmt::format("ran out of fuel after {} statements (a loop that never ends?)",
                                                   limits_.fuel));
          auto flow = block(loop.body);
          if (!flow || *flow != Flow::Next) return flow;
        }
      }
      case ast::StmtKind::For: {
        const auto& loop = static_cast<const ast::ForStmt&>(stmt);
        auto iterable = eval(*loop.iterable);
        if (!iterable) return iterable.error();
        for (double element : iterable->list) {
          locals_[loop.var] = Value{element, {}, false};
          auto flow = block(loop.body);
          if (!flow || *flow != Flow::Next) return flow;
        }
        return Flow::Next;
      }
      case ast::StmtKind::Accept: {
        auto trial = log_.measure(config_);  // the accepted configuration is part of the log
        if (!trial) return trial.error();
        return Flow::Accept;
      }
      case ast::StmtKind::Reject: return Flow::Reject;
      default: return error_at(stmt.span, "this statement belongs in a kernel");
    }
  }

  // Every statement, and every list before it is built, checks what the policy would hold.
  Status check_memory(const source::Span& span, size_t extra) {
    for (; counted_trials_ < log_.trials().size(); ++counted_trials_) trials_bytes_ += trial_bytes(log_.trials()[counted_trials_]);
    size_t held = extra + trials_bytes_;
    for (const auto& [name, value] : locals_) held += name.size() + value_bytes(value.list.size());
    if (held <= limits_.policy_memory_bytes) return Status::success();
    return error_at(span, fmt::format("exceeded its memory limit of {} bytes (it would hold {}: {} trials measured, "
                                      "{} variables)",
                                      limits_.policy_memory_bytes, held, log_.trials().size(), locals_.size()));
  }

  double knob_value(const std::string& knob) const {
    for (size_t i = 0; i < space_.slots.size(); ++i)
      if (space_.slots[i].knob == knob) return space_.slots[i].values[config_[i]];
    return 0;
  }

  // Sets every slot of `knob` (all tensors of a family) to `value`, which must be in its domain.
  Status assign(const std::string& knob, double value, const source::Span& span) {
    bool found = false;
    for (size_t i = 0; i < space_.slots.size(); ++i) {
      if (space_.slots[i].knob != knob) continue;
      const auto& values = space_.slots[i].values;
      size_t best = 0;
      for (size_t v = 1; v < values.size(); ++v)
        if (std::fabs(values[v] - value) < std::fabs(values[best] - value)) best = v;
      if (std::fabs(values[best] - value) > 1e-9 * std::max(1.0, std::fabs(value)))
        return error_at(span, fmt::format("{:g} is not in the domain of knob '{}'", value, knob));
      config_[i] = best;
      found = true;
    }
    if (!found) return error_at(span, fmt::format("knob '{}' has no values to set", knob));
    return Status::success();
  }

  Expected<Value> eval(const ast::Expr& expr) {
    switch (expr.kind) {
      case ast::ExprKind::Number: return Value{sema::literal_value(*expr.as<ast::NumberExpr>()), {}, false};
      case ast::ExprKind::Bool: return Value{expr.as<ast::BoolExpr>()->value ? 1.0 : 0.0, {}, false};
      case ast::ExprKind::Name: {
        const std::string& name = expr.as<ast::NameExpr>()->name;
        if (auto it = locals_.find(name); it != locals_.end()) return it->second;
        return Value{knob_value(name), {}, false};
      }
      case ast::ExprKind::List: {
        const auto& elements = expr.as<ast::ListExpr>()->elements;
        if (auto status = check_memory(expr.span, value_bytes(elements.size())); !status) return status.error();
        Value list;
        list.is_list = true;
        for (const auto& element : elements) {
          auto value = eval(*element);
          if (!value) return value;
          list.list.push_back(value->number);
        }
        return list;
      }
      case ast::ExprKind::Unary: {
        const auto& unary = *expr.as<ast::UnaryExpr>();
        auto operand = eval(*unary.operand);
        if (!operand) return operand;
        return Value{unary.op == ast::UnaryOp::Neg ? -operand->number : double(operand->number == 0), {}, false};
      }
      case ast::ExprKind::Binary: return binary(*expr.as<ast::BinaryExpr>());
      case ast::ExprKind::Call: {
        const auto& call = *expr.as<ast::CallExpr>();
        const std::string& meter = call.args.at(0).value->as<ast::NameExpr>()->name;
        auto trial = log_.measure(config_);
        if (!trial) return trial.error();
        if (*trial == nullptr)
          return error_at(expr.span, fmt::format("measured more than max_trials = {} configurations", limits_.max_trials));
        auto value = (*trial)->meter(meter);
        if (!value) return error_at(expr.span, fmt::format("no meter '{}'", meter));
        return Value{*value, {}, false};
      }
      default: return error_at(expr.span, "cannot evaluate " + syntax::format_expr(expr));
    }
  }

  Expected<Value> binary(const ast::BinaryExpr& binary) {
    auto lhs = eval(*binary.lhs);
    if (!lhs) return lhs;
    // `and` and `or` do not measure what they do not need.
    if (binary.op == ast::BinaryOp::And && lhs->number == 0) return Value{0, {}, false};
    if (binary.op == ast::BinaryOp::Or && lhs->number != 0) return Value{1, {}, false};
    auto rhs = eval(*binary.rhs);
    if (!rhs) return rhs;
    double a = lhs->number, b = rhs->number, out = 0;
    switch (binary.op) {
      case ast::BinaryOp::Add: out = a + b; break;
      case ast::BinaryOp::Sub: out = a - b; break;
      case ast::BinaryOp::Mul: out = a * b; break;
      case ast::BinaryOp::Div:
        if (b == 0) return error_at(binary.span, "division by zero");
        out = a / b;
        break;
      case ast::BinaryOp::Pow: out = std::pow(a, b); break;
      // Knob values are stored exactly as the domain lists them; compare with a tolerance so
      // that 95% reached by steps of 5% equals the literal 95%.
      case ast::BinaryOp::Lt: out = a < b - 1e-12; break;
      case ast::BinaryOp::Le: out = a <= b + 1e-12; break;
      case ast::BinaryOp::Gt: out = a > b + 1e-12; break;
      case ast::BinaryOp::Ge: out = a >= b - 1e-12; break;
      case ast::BinaryOp::Eq: out = std::fabs(a - b) <= 1e-12; break;
      case ast::BinaryOp::Ne: out = std::fabs(a - b) > 1e-12; break;
      case ast::BinaryOp::And:
      case ast::BinaryOp::Or: out = b != 0; break;
      case ast::BinaryOp::Pipe: return error_at(binary.span, "`|>` has no value in a policy");
    }
    return Value{out, {}, false};
  }

  const ast::PolicyDecl& policy_;
  const KnobSpace& space_;
  SearchLimits limits_;
  TrialLog log_;
  Configuration config_;
  std::map<std::string, Value> locals_;
  size_t executed_ = 0;
  size_t counted_trials_ = 0, trials_bytes_ = 0;  // the trials' bytes, summed as they arrive
};

}  // namespace

Expected<SearchOutcome> run_scripted_policy(const ast::PolicyDecl& policy, TrialEvaluator& evaluator,
                                            const KnobSpace& space, const SearchLimits& limits, bool maximize) {
  return PolicyInterpreter(policy, evaluator, space, limits, maximize).run();
}

}  // namespace kmr::engine
