// The embedding API: compile a KMR policy, bind models and data, add meters and rules
// written in C++, run it under limits and read the report as data.
//
// Self-contained: only the standard library. Nothing throws out of a Session; every
// failure is a value (kmr::Failure) with the diagnostics or message that explain it.
// docs/embedding.md is the guide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace kmr {

/// One finding of the compiler, as `kmrc check` prints it.
struct Diagnostic {
  bool is_error = true;  // false: a warning
  std::string file;      // as the script or module was named
  unsigned line = 0;     // 1-based; 0 when the finding concerns no one place
  unsigned column = 0;   // 1-based, in code points
  std::string code;      // "E031", "W001": docs/diagnostics.md lists them
  std::string message;
  std::string rendered;  // `file:line:col: error[E031]: message`, the source line, a caret
};

enum class FailureKind {
  invalid_argument,  // an API call that cannot be honoured (a bad name, mismatched sizes)
  compile,           // the script has errors: see Failure::diagnostics
  no_program,        // run() without a successful compile
  run,               // the run stopped: a meter or rule failed, a file could not be written
  internal,          // an unexpected exception inside the library, caught at the boundary
};

struct Failure {
  FailureKind kind = FailureKind::internal;
  std::string message;                  // for a log (compile: every diagnostic, rendered)
  std::vector<Diagnostic> diagnostics;  // compile failures: every finding, sorted
};

/// A T or the Failure that prevented it. value() on a failure (or error() on a value) is
/// a programming error: std::get's std::bad_variant_access.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Failure& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Failure> state_;
};

/// Success, or the Failure of an operation that produces nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : failure_(std::move(failure)) {}

  bool ok() const { return !failure_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Failure& error() const { return failure_.value(); }

 private:
  std::optional<Failure> failure_;
};

/// A failure a callable returns: `return kmr::fail("no fc1.weight");`.
inline Failure fail(std::string message) { return Failure{FailureKind::run, std::move(message), {}}; }

/// The language's types a host meter or rule may take or return (docs/language.md §4).
enum class Type { Int, Float, Ratio, Bool, Bytes, Flops, Duration, Model, Data };

struct Param {
  std::string name;
  Type type;
};

/// How a tensor would be saved: as it is, bitmask-sparse, quantised, or as low-rank factors.
enum class Encoding { Dense, Sparse, Quantized, LowRank };

/// One tensor of a model as a trial materialised it.
struct TensorView {
  std::string name;
  std::vector<int64_t> shape;
  Encoding encoding = Encoding::Dense;
  const float* values = nullptr;  // decoded, row-major; null for non-float tensors
  int64_t numel = 0;
  int64_t nonzeros = 0;
  uint64_t encoded_bytes = 0;  // what the saved checkpoint spends on its data
};

struct ModelView {
  std::vector<TensorView> tensors;  // checkpoint order
  const TensorView* find(const std::string& name) const {
    for (const auto& tensor : tensors)
      if (tensor.name == name) return &tensor;
    return nullptr;
  }
};

struct DataView {
  int64_t count = 0;
  int64_t features = 0;
  int64_t num_classes = 0;
  const float* inputs = nullptr;    // count x features, row-major
  const int32_t* labels = nullptr;  // count
};

/// A host meter's arguments for one trial, each list in the order of the signature's
/// parameters of that kind: models, data sets, numbers (ints, ratios, quantities in base
/// units: bytes, FLOP, seconds). Views are valid during the call only.
struct MeterCall {
  std::vector<ModelView> models;
  std::vector<DataView> data;
  std::vector<double> numbers;
};
/// Returns the meter's value in base units of its result type.
using MeterFunction = std::function<Result<double>(const MeterCall&)>;

/// A host rule's input: one selected tensor as the previous pipeline step left it
/// (decoded, row-major) and the rule's arguments after the tensor. Valid during the call.
struct RuleCall {
  const std::string& tensor;
  const std::vector<int64_t>& shape;
  const std::vector<float>& values;
  const std::vector<double>& args;
};
/// Returns the new values: as many as the input, row-major.
using RuleFunction = std::function<Result<std::vector<float>>(const RuleCall&)>;

/// What a run may spend (the `kmrc run` options of the same names).
struct Limits {
  size_t fuel = 1000000;                          // statements of a scripted policy
  size_t policy_memory_bytes = size_t{64} << 20;  // what a scripted policy may hold
  int threads = 0;                                // kernel threads; 0: every core
  bool use_jit = true;                            // false: kernels in the interpreter
  std::optional<std::string> kernel_cache_dir;    // the JIT's disk cache; default: kmrc's
  /// Replace the script's policy budget (`max_trials`, `time_limit`) when set.
  std::optional<size_t> max_trials;
  std::optional<double> time_limit_seconds;
};

using NamedValues = std::vector<std::pair<std::string, double>>;

/// The value named `name` in `values`, if any.
inline std::optional<double> lookup(const NamedValues& values, const std::string& name) {
  for (const auto& [key, value] : values)
    if (key == name) return value;
  return std::nullopt;
}

struct ConstraintResult {
  std::string kind;         // "budget" or "require"
  std::string constraint;   // as written, formatted
  double lhs = 0, rhs = 0;  // both sides of a comparison, in base units
  bool holds = false;
};

struct Trial {
  size_t index = 0;
  NamedValues knobs;   // knob (family members as `bits[fc1.weight]`) -> value
  NamedValues meters;  // every declared meter, in declaration order
  std::vector<ConstraintResult> constraints;
  std::optional<double> objective;
  bool feasible = false;
  double seconds = 0;
};

struct Report {
  bool feasible = false;  // a configuration met every budget and requirement
  std::string policy;
  NamedValues baseline;  // meters of the unmodified models
  std::vector<Trial> trials;
  std::optional<size_t> chosen;    // index into trials
  std::vector<std::string> saved;  // paths the script's `save` declarations wrote
  std::vector<std::string> notes;
  std::string summary;  // the table `kmrc run` prints
  std::string json;     // the whole report, as `report to` writes it

  const Trial* chosen_trial() const { return chosen && *chosen < trials.size() ? &trials[*chosen] : nullptr; }
};

/// One policy and what the application adds to it. Register meters, rules and bindings,
/// compile, then run (as often as wanted). A change after compiling is picked up by the
/// next run, which compiles the same source again first.
///
/// A Session is used by one thread at a time; separate sessions are independent and may
/// run concurrently. Calls into one session's callables never overlap.
class Session {
 public:
  Session();
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// A meter scripts call as `name(args)` in meter, budget, require and objective
  /// declarations; `result` is its unit (Int, Float, Ratio, Bytes, Flops or Duration).
  Result<void> add_meter(const std::string& name, std::vector<Param> params, Type result, MeterFunction function);
  /// A tensor rule, declared to scripts that `import "host";` as
  /// `native kernel name(w: tensor, params...) -> tensor;` (params: Int, Float, Ratio, Bool).
  Result<void> add_rule(const std::string& name, std::vector<Param> params, RuleFunction function);
  /// Makes the script's `model name = load(...)` read `path` instead.
  Result<void> bind_model(const std::string& name, const std::string& path);
  /// Supplies the script's `data name = ...` from memory (its source is not read):
  /// `images` holds labels.size() rows of `features` floats; labels are 0..classes-1.
  Result<void> bind_data(const std::string& name, std::vector<float> images, int64_t features,
                         std::vector<int32_t> labels);
  /// Pins knob `knob` to `value` as `kmrc run --set knob=value` does (checked at run).
  Result<void> set_knob(const std::string& knob, const std::string& value);
  /// Replaces the limits of later runs (threads >= 0; fuel and policy memory > 0).
  Result<void> set_limits(const Limits& limits);

  /// Compiles a script file (imports resolve relative to it). On success, the warnings.
  Result<std::vector<Diagnostic>> compile_file(const std::string& path);
  /// Compiles script text; `name` labels diagnostics, relative imports resolve against the
  /// current directory. On success, the warnings.
  Result<std::vector<Diagnostic>> compile_string(const std::string& name, const std::string& text);

  /// Runs the compiled policy: baseline, search, the chosen model saved where the script
  /// says. An infeasible search is a Report with feasible == false, not a Failure.
  Result<Report> run();

  /// The text of the `host` module that declares the registered rules.
  std::string host_module() const;

 private:
  struct Impl;
  // Created on first use, where a failure can still become a value: constructing and
  // moving sessions cannot fail, and a moved-from session is simply a fresh one.
  Impl& impl();
  std::unique_ptr<Impl> impl_;
};

}  // namespace kmr
