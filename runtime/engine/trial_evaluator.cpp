// Meter expressions evaluated over materialised models, with per-trial memoisation.
#include "runtime/engine/trial_evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "compiler/sema/const_eval.h"
#include "compiler/syntax/formatter.h"
#include "runtime/engine/host_extensions.h"
#include "runtime/engine/weight_meters.h"
#include "runtime/csv_dataset.h"
#include "runtime/fashion_mnist.h"
#include "runtime/model_meters.h"

namespace kmr::engine {
namespace {

// The constant argument `name` (or at `position`) of a call, if given.
std::optional<sema::Value> constant_arg(const ast::CallExpr& call, const std::string& name, size_t position) {
  size_t index = 0;
  for (const auto& arg : call.args) {
    bool match = arg.name.empty() ? index++ == position : arg.name == name;
    if (match) return sema::evaluate_constant(*arg.value);
  }
  return std::nullopt;
}

const ast::Expr* arg_at(const ast::CallExpr& call, const std::string& name, size_t position) {
  size_t index = 0;
  for (const auto& arg : call.args) {
    bool match = arg.name.empty() ? index++ == position : arg.name == name;
    if (match) return arg.value.get();
  }
  return nullptr;
}

}  // namespace

// What one trial has computed so far: models by name and meter values by name.
struct TrialEvaluator::TrialState {
  const Configuration& config;
  bool baseline = false;  // measure the models pipelines start from
  std::map<std::string, MaterializedModel> models;
  std::map<std::string, runtime::Mlp> mlps;
  std::map<std::string, double> meters;
};

std::optional<double> TrialResult::meter(const std::string& name) const {
  for (const auto& [meter, value] : meters)
    if (meter == name) return value;
  return std::nullopt;
}

Expected<std::unique_ptr<TrialEvaluator>> TrialEvaluator::create(const sema::CheckedProgram& program,
                                                                 const ast::Module& root, ModelStore& store,
                                                                 const KnobSpace& space,
                                                                 codegen::KernelEngine& kernels,
                                                                 const HostExtensions* host,
                                                                 std::ostream* progress) {
  std::unique_ptr<TrialEvaluator> evaluator(new TrialEvaluator(program, store, space, kernels, host));
  evaluator->progress_ = progress;
  for (const auto& decl : root.decls) {
    if (const auto* meter = decl->as<ast::MeterDecl>()) evaluator->meters_.push_back(meter);
    if (decl->kind == ast::DeclKind::Budget || decl->kind == ast::DeclKind::Require)
      evaluator->constraints_.push_back(static_cast<const ast::ConstraintDecl*>(decl.get()));
    if (decl->kind == ast::DeclKind::Objective) evaluator->objective_ = static_cast<const ast::ConstraintDecl*>(decl.get());
  }
  return evaluator;
}

Expected<PipelineRunner*> TrialEvaluator::runner(const std::string& name) {
  auto it = runners_.find(name);
  if (it == runners_.end()) {
    NativeServices services;
    services.data = [this](const std::string& data) -> Expected<const runtime::Dataset*> {
      return data_named(data);
    };
    services.host = host_;
    services.progress = progress_;
    auto created = PipelineRunner::create(program_, name, store_, space_, kernels_, std::move(services));
    if (!created) return created.error();
    it = runners_.emplace(name, std::move(*created)).first;
  }
  return it->second.get();
}

Expected<MaterializedModel> TrialEvaluator::materialize(const std::string& name, const Configuration& config) {
  auto run = runner(name);
  if (!run) return run.error();
  return (*run)->run(config);
}

Expected<const MaterializedModel*> TrialEvaluator::model_of(const ast::Expr& expr, TrialState& trial) {
  const auto* name = expr.as<ast::NameExpr>();
  if (name == nullptr) return Error{"a meter measures a named model or pipeline"};
  auto cached = trial.models.find(name->name);
  if (cached == trial.models.end()) {
    const ast::Decl* root = trial.baseline ? root_model(program_, name->name) : nullptr;
    auto model = materialize(root ? root->name : name->name, trial.config);
    if (!model) return model.error();
    cached = trial.models.emplace(name->name, std::move(*model)).first;
  }
  return &cached->second;
}

Expected<const runtime::Mlp*> TrialEvaluator::mlp_of(const ast::Expr& expr, TrialState& trial) {
  const auto* name = expr.as<ast::NameExpr>();
  if (name == nullptr) return Error{"a meter measures a named model or pipeline"};
  auto cached = trial.mlps.find(name->name);
  if (cached != trial.mlps.end()) return &cached->second;
  auto model = model_of(expr, trial);
  if (!model) return model.error();
  // The architecture's activation comes from the load() the pipeline starts from.
  auto mlp = to_mlp(**model, activation_of(program_, name->name));
  if (!mlp) return mlp.error();
  return &trial.mlps.emplace(name->name, std::move(*mlp)).first->second;
}

Expected<const runtime::Dataset*> TrialEvaluator::data_of(const ast::Expr& expr) {
  const auto* name = expr.as<ast::NameExpr>();
  if (name == nullptr) return Error{"a meter reads a named data set"};
  return data_named(name->name);
}

Expected<const runtime::Dataset*> TrialEvaluator::data_named(const std::string& name) {
  if (auto it = data_.find(name); it != data_.end()) return &it->second;
  if (host_ != nullptr)
    if (auto bound = host_->data.find(name); bound != host_->data.end()) return &bound->second;
  auto symbol = program_.symbols.find(name);
  if (symbol == program_.symbols.end() || symbol->second.kind != sema::SymbolKind::Data)
    return Error{fmt::format("'{}' is not a data set", name)};
  const auto& decl = static_cast<const ast::ValueDecl&>(*symbol->second.decl);
  const auto* call = decl.value->as<ast::CallExpr>();
  const auto* source = call ? call->callee->as<ast::NameExpr>() : nullptr;
  if (source == nullptr) return Error{fmt::format("data set '{}' has no source", name)};
  Expected<runtime::Dataset> data = Error{""};
  if (source->name == "fashion_mnist") {
    auto split = constant_arg(*call, "split", 0);
    auto limit = constant_arg(*call, "limit", 1);
    auto dir = constant_arg(*call, "path", 2);
    data = runtime::load_fashion_mnist(split ? split->text : "test", limit ? limit->integer : -1,
                                       dir ? dir->text : runtime::default_fashion_mnist_dir());
  } else if (source->name == "idx") {
    auto images = constant_arg(*call, "images", 0);
    auto labels = constant_arg(*call, "labels", 1);
    auto limit = constant_arg(*call, "limit", 2);
    data = runtime::load_idx_dataset(images ? images->text : "", labels ? labels->text : "", limit ? limit->integer : -1);
  } else if (source->name == "csv") {
    auto path = constant_arg(*call, "path", 0);
    auto label = constant_arg(*call, "label", 1);
    auto limit = constant_arg(*call, "limit", 2);
    runtime::CsvOptions options;
    options.label = runtime::CsvLabelColumn::by_name(label ? label->text : "");
    options.limit = limit ? limit->integer : -1;
    auto table = runtime::load_csv_dataset(path ? path->text : "", options);
    if (table) data = std::move(table->data);
    else data = table.error();
  } else {
    return Error{fmt::format("data set '{}': '{}' is not a data source", name, source->name)};
  }
  if (!data) return data.error();
  return &data_.emplace(name, std::move(*data)).first->second;
}

std::vector<std::string> TrialEvaluator::notes() const {
  std::vector<std::string> notes;
  for (const auto& [name, runner] : runners_) notes.insert(notes.end(), runner->notes().begin(), runner->notes().end());
  return notes;
}

double TrialEvaluator::kernel_seconds() const {
  double seconds = 0;
  for (const auto& [name, runner] : runners_) seconds += runner->kernel_seconds();
  return seconds;
}

Expected<double> TrialEvaluator::host_meter_call(const ast::CallExpr& call, const HostMeter& meter, TrialState& trial) {
  // Arguments arrive in signature order (named ones are bound by name, as the checker did);
  // their kinds come from the signature.
  const std::string& name = call.callee->as<ast::NameExpr>()->name;
  auto signature = std::find_if(program_.host_meters.begin(), program_.host_meters.end(),
                                [&](const sema::Builtin& builtin) { return builtin.name == name; });
  if (signature == program_.host_meters.end()) return Error{"the program was not checked with this host meter"};
  HostMeterCall args;
  for (size_t i = 0; i < signature->params.size(); ++i) {
    const sema::BuiltinParam& param = signature->params[i];
    const ast::Expr* arg = arg_at(call, param.name, i);
    if (arg == nullptr) continue;  // optional and not given
    if (param.type == sema::Type::Model) {
      auto model = model_of(*arg, trial);
      if (!model) return model.error();
      args.models.push_back(*model);
    } else if (param.type == sema::Type::Data) {
      auto data = data_of(*arg);
      if (!data) return data.error();
      args.data.push_back(*data);
    } else {
      auto number = value_of(*arg, trial);
      if (!number) return number;
      args.numbers.push_back(*number);
    }
  }
  return meter(args);
}

Expected<double> TrialEvaluator::meter_call(const ast::CallExpr& call, TrialState& trial) {
  const std::string& meter = call.callee->as<ast::NameExpr>()->name;
  if (host_ != nullptr)
    if (auto it = host_->meters.find(meter); it != host_->meters.end()) {
      return host_meter_call(call, it->second, trial);
    }
  const ast::Expr* subject = arg_at(call, "model", 0);
  if (subject == nullptr) return Error{fmt::format("{}: which model?", meter)};
  if (meter == "encoded_size" || meter == "param_count" || meter == "nnz" || meter == "sparsity" ||
      meter == "flops" || meter == "rel_error") {
    auto model = model_of(*subject, trial);
    if (!model) return model.error();
    if (meter == "encoded_size") return static_cast<double>(encoded_size(**model));
    if (meter == "param_count") return static_cast<double>(param_count(**model));
    if (meter == "nnz") return static_cast<double>(nonzero_count(**model));
    if (meter == "sparsity") return sparsity(**model);
    if (meter == "flops") return forward_flops(**model);
    auto reference = model_of(*arg_at(call, "reference", 1), trial);
    if (!reference) return reference.error();
    return relative_error(**model, **reference);
  }
  auto mlp = mlp_of(*subject, trial);
  if (!mlp) return mlp.error();
  if (meter == "top1" || meter == "loss") {
    auto data = data_of(*arg_at(call, "data", 1));
    if (!data) return data.error();
    return meter == "top1" ? runtime::top1(**mlp, **data) : runtime::loss(**mlp, **data);
  }
  auto reference = mlp_of(*arg_at(call, "reference", 1), trial);
  if (!reference) return reference.error();
  auto data = data_of(*arg_at(call, meter == "output_error" ? "calib" : "data", 2));
  if (!data) return data.error();
  if (meter == "agreement") return runtime::agreement(**mlp, **reference, **data);
  auto drift = runtime::output_error(**mlp, **reference, **data);
  if (!drift) return drift.error();
  return drift->mean;
}

Expected<double> TrialEvaluator::meter_value(const ast::MeterDecl& meter, TrialState& trial) {
  if (auto it = trial.meters.find(meter.name); it != trial.meters.end()) return it->second;
  auto value = value_of(*meter.value, trial);
  if (value) trial.meters[meter.name] = *value;
  return value;
}

Expected<double> TrialEvaluator::value_of(const ast::Expr& expr, TrialState& trial) {
  switch (expr.kind) {
    case ast::ExprKind::Number: return sema::literal_value(*expr.as<ast::NumberExpr>());
    case ast::ExprKind::Name: {
      const std::string& name = expr.as<ast::NameExpr>()->name;
      const sema::Symbol& symbol = program_.symbols.at(name);
      if (symbol.kind != sema::SymbolKind::Meter) return Error{fmt::format("'{}' is not a meter", name)};
      return meter_value(static_cast<const ast::MeterDecl&>(*symbol.decl), trial);
    }
    case ast::ExprKind::Unary: {
      auto operand = value_of(*expr.as<ast::UnaryExpr>()->operand, trial);
      if (!operand) return operand;
      return expr.as<ast::UnaryExpr>()->op == ast::UnaryOp::Neg ? -*operand : (*operand == 0 ? 1.0 : 0.0);
    }
    case ast::ExprKind::Binary: {
      const auto& binary = *expr.as<ast::BinaryExpr>();
      auto lhs = value_of(*binary.lhs, trial);
      if (!lhs) return lhs;
      auto rhs = value_of(*binary.rhs, trial);
      if (!rhs) return rhs;
      double a = *lhs, b = *rhs;
      switch (binary.op) {
        case ast::BinaryOp::Add: return a + b;
        case ast::BinaryOp::Sub: return a - b;
        case ast::BinaryOp::Mul: return a * b;
        case ast::BinaryOp::Div: return b == 0 ? Expected<double>(Error{"division by zero in a meter"}) : a / b;
        case ast::BinaryOp::Pow: return std::pow(a, b);
        case ast::BinaryOp::Lt: return double(a < b);
        case ast::BinaryOp::Le: return double(a <= b);
        case ast::BinaryOp::Gt: return double(a > b);
        case ast::BinaryOp::Ge: return double(a >= b);
        case ast::BinaryOp::Eq: return double(a == b);
        case ast::BinaryOp::Ne: return double(a != b);
        case ast::BinaryOp::And: return double(a != 0 && b != 0);
        case ast::BinaryOp::Or: return double(a != 0 || b != 0);
        case ast::BinaryOp::Pipe: break;
      }
      return Error{"`|>` has no value"};
    }
    case ast::ExprKind::Call: return meter_call(*expr.as<ast::CallExpr>(), trial);
    default: return Error{fmt::format("cannot measure {}", syntax::format_expr(expr))};
  }
}

Expected<TrialResult> TrialEvaluator::evaluate(const Configuration& config) {
  TrialState trial{config, false, {}, {}, {}};
  return evaluate(trial);
}

Expected<TrialResult> TrialEvaluator::evaluate_baseline() {
  Configuration defaults = space_.defaults();
  TrialState trial{defaults, true, {}, {}, {}};
  return evaluate(trial);
}

Expected<TrialResult> TrialEvaluator::evaluate(TrialState& trial) {
  auto start = std::chrono::steady_clock::now();
  TrialResult result;
  result.config = trial.config;
  for (const auto* meter : meters_) {
    auto value = meter_value(*meter, trial);
    if (!value) return Error{fmt::format("meter '{}': {}", meter->name, value.error().message)};
    result.meters.emplace_back(meter->name, *value);
  }
  result.feasible = true;
  for (const auto* constraint : constraints_) {
    ConstraintResult checked;
    checked.decl = constraint;
    checked.text = syntax::format_expr(*constraint->expr);
    // Both sides of a comparison are kept: the report says by how much a constraint missed.
    if (const auto* comparison = constraint->expr->as<ast::BinaryExpr>(); comparison && ast::is_comparison(comparison->op)) {
      auto lhs = value_of(*comparison->lhs, trial);
      if (!lhs) return Error{fmt::format("`{}`: {}", checked.text, lhs.error().message)};
      auto rhs = value_of(*comparison->rhs, trial);
      if (!rhs) return Error{fmt::format("`{}`: {}", checked.text, rhs.error().message)};
      checked.lhs = *lhs;
      checked.rhs = *rhs;
    }
    auto holds = value_of(*constraint->expr, trial);
    if (!holds) return Error{fmt::format("`{}`: {}", checked.text, holds.error().message)};
    checked.holds = *holds != 0;
    result.feasible &= checked.holds;
    result.constraints.push_back(std::move(checked));
  }
  if (objective_) {
    auto value = value_of(*objective_->expr, trial);
    if (!value) return Error{fmt::format("objective: {}", value.error().message)};
    result.objective = *value;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kmr::engine
