// The embedding API without host callables running: compile results as values, bindings
// and registrations that are refused, sessions kept apart, plain runs.
#include <kmr/kmr.h>  // first: the public header needs nothing before it
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "session_fixture.h"

namespace kmr::embed_test {
namespace {

Result<double> constant_meter(const MeterCall&) { return 1.0; }

const Diagnostic* find_code(const std::vector<Diagnostic>& diagnostics, const std::string& code) {
  for (const auto& d : diagnostics)
    if (d.code == code) return &d;
  return nullptr;
}

TEST_CASE("compile errors come back as diagnostics with their place and code") {
  Session session;
  auto compiled = session.compile_string("bad.kmr", "knob k : int in {8, 4} = 5;\n");
  REQUIRE_FALSE(compiled.ok());
  CHECK(compiled.error().kind == FailureKind::compile);
  const Diagnostic* d = find_code(compiled.error().diagnostics, "E050");
  REQUIRE(d != nullptr);
  CHECK(d->is_error);
  CHECK(d->file == "bad.kmr");
  CHECK(d->line == 1);
  CHECK(d->column == 26);
  CHECK(d->rendered.find("bad.kmr:1:26: error[E050]") == 0);
  CHECK(compiled.error().message.find("bad.kmr:1:26") != std::string::npos);

  auto missing = session.compile_file("no/such/policy.kmr");
  REQUIRE_FALSE(missing.ok());
  REQUIRE_FALSE(missing.error().diagnostics.empty());
  CHECK(missing.error().diagnostics[0].code == "E011");
  CHECK(missing.error().diagnostics[0].line == 0);
}

TEST_CASE("a script that checks returns its warnings") {
  Session session;
  auto compiled = session.compile_string("warn.kmr", policy(std::string(kQuantBody) + "knob unused : bool;\n"));
  REQUIRE(compiled.ok());
  REQUIRE(compiled->size() == 1);
  CHECK((*compiled)[0].code == "W001");
  CHECK_FALSE((*compiled)[0].is_error);
}

TEST_CASE("bad bindings are error values") {
  Session session;
  auto missing = session.bind_model("base", "no/such/model.safetensors");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == FailureKind::invalid_argument);
  CHECK(missing.error().message.find("no/such/model.safetensors") != std::string::npos);
  CHECK_FALSE(session.bind_model("not a name", kBaseline).ok());

  REQUIRE(session.bind_model("teacher", kBaseline).ok());
  auto compiled = session.compile_string("policy.kmr", policy(kQuantBody));
  REQUIRE_FALSE(compiled.ok());
  const Diagnostic* unknown = find_code(compiled.error().diagnostics, "E031");
  REQUIRE(unknown != nullptr);
  CHECK(unknown->message.find("teacher") != std::string::npos);

  CHECK(session.bind_data("calib", {1, 2, 3}, 2, {0, 1}).error().kind == FailureKind::invalid_argument);
  CHECK_FALSE(session.bind_data("calib", {1, 2, 3, 4}, 2, {0, -1}).ok());
  CHECK_FALSE(session.bind_data("calib", {}, 0, {}).ok());
  CHECK(session.bind_data("calib", {1, 2, 3, 4}, 2, {0, 1}).ok());
}

TEST_CASE("a bound model replaces the path the script loads") {
  Session session = test_session();
  REQUIRE(session.bind_model("base", kBaseline).ok());
  std::string text = policy(kQuantBody);
  text.replace(text.find("examples/fashion_mnist/mlp.safetensors"), 38, "elsewhere/model.safetensors");
  require_compiles(session, text);
  auto report = session.run();
  INFO((report ? std::string() : report.error().message));
  CHECK(report.ok());
}

TEST_CASE("registrations are checked when made") {
  Session session;
  CHECK(session.add_meter("lat", {{"m", Type::Model}}, Type::Model, constant_meter).error().kind ==
        FailureKind::invalid_argument);
  CHECK_FALSE(session.add_meter("lat", {{"m", Type::Bool}}, Type::Duration, constant_meter).ok());
  CHECK_FALSE(session.add_meter("lat", {{"m", Type::Model}, {"m", Type::Data}}, Type::Duration, constant_meter).ok());
  CHECK_FALSE(session.add_meter("two words", {}, Type::Duration, constant_meter).ok());
  CHECK_FALSE(session.add_meter("lat", {}, Type::Duration, nullptr).ok());
  REQUIRE(session.add_meter("lat", {{"m", Type::Model}}, Type::Duration, constant_meter).ok());
  CHECK_FALSE(session.add_meter("lat", {{"m", Type::Model}}, Type::Duration, constant_meter).ok());

  auto identity = [](const RuleCall& call) -> Result<std::vector<float>> { return call.values; };
  CHECK_FALSE(session.add_rule("lat", {}, identity).ok());                      // the meter's name
  CHECK_FALSE(session.add_rule("scale", {{"w", Type::Float}}, identity).ok());  // the tensor's name
  CHECK_FALSE(session.add_rule("scale", {{"m", Type::Model}}, identity).ok());  // rules take numbers
  REQUIRE(session.add_rule("scale", {{"factor", Type::Float}, {"on", Type::Bool}}, identity).ok());
  CHECK(session.host_module().find("native kernel scale(w: tensor, factor: float, on: bool) -> tensor;") !=
        std::string::npos);

  Limits limits;
  limits.threads = -1;
  CHECK_FALSE(session.set_limits(limits).ok());
}

TEST_CASE("a host meter is typed by the checker: units, places and names") {
  Session session;
  REQUIRE(session.add_meter("latency", {{"model", Type::Model}}, Type::Duration, constant_meter).ok());
  std::string meter = "meter lat : duration = latency(small);\n";
  require_compiles(session, policy(std::string(kQuantBody) + meter + "budget lat <= 3 ms;\n"));

  auto wrong_unit =
      session.compile_string("policy.kmr", policy(std::string(kQuantBody) + meter + "budget lat <= 3 KiB;\n"));
  REQUIRE_FALSE(wrong_unit.ok());
  const Diagnostic* mismatch = find_code(wrong_unit.error().diagnostics, "E041");
  REQUIRE(mismatch != nullptr);
  CHECK(mismatch->line == 12);

  REQUIRE(session.add_meter("top1", {{"model", Type::Model}}, Type::Ratio, constant_meter).ok());
  auto clash = session.compile_string("policy.kmr", policy(kQuantBody));
  REQUIRE_FALSE(clash.ok());
  CHECK(find_code(clash.error().diagnostics, "E030") != nullptr);
}

TEST_CASE("host rules are imported from the host module") {
  Session session;
  auto identity = [](const RuleCall& call) -> Result<std::vector<float>> { return call.values; };
  REQUIRE(session.add_rule("clip", {{"limit", Type::Float}}, identity).ok());
  std::string rule = "rule c = clip(0.5) on base.match(\"fc*.weight\");\npipeline clipped = base |> c;\n";
  require_compiles(session, "import \"host\";\n" + policy(std::string(kQuantBody) + rule));
  auto without_import = session.compile_string("policy.kmr", policy(std::string(kQuantBody) + rule));
  REQUIRE_FALSE(without_import.ok());
  CHECK(find_code(without_import.error().diagnostics, "E031") != nullptr);
}

TEST_CASE("two sessions keep their meters apart") {
  Session with = test_session(), without = test_session();
  REQUIRE(with.add_meter("latency", {{"model", Type::Model}}, Type::Duration, constant_meter).ok());
  std::string text = policy(std::string(kQuantBody) + "budget latency(small) <= 3 ms;\n");
  require_compiles(with, text);
  auto compiled = without.compile_string("policy.kmr", text);
  REQUIRE_FALSE(compiled.ok());
  CHECK(find_code(compiled.error().diagnostics, "E031") != nullptr);
}

TEST_CASE("run needs a program; a plain policy runs and says whether it was feasible") {
  Session session = test_session();
  auto nothing = session.run();
  REQUIRE_FALSE(nothing.ok());
  CHECK(nothing.error().kind == FailureKind::no_program);

  require_compiles(session, policy(kQuantBody));
  auto report = session.run();
  INFO((report ? std::string() : report.error().message));
  REQUIRE(report.ok());
  CHECK(report->feasible);
  CHECK(report->summary.find("policy grid") != std::string::npos);
  CHECK(report->saved.empty());

  REQUIRE(session.set_knob("bits", "8").ok());
  auto pinned = session.run();
  REQUIRE(pinned.ok());
  CHECK_FALSE(pinned->feasible);  // 8-bit weights miss the budget
  Limits one_trial;
  one_trial.max_trials = 1;
  REQUIRE(session.set_limits(one_trial).ok());
  auto capped = session.run();
  REQUIRE(capped.ok());
  CHECK(capped->trials.size() == 1);
  Limits zero_trials;
  zero_trials.max_trials = 0;
  auto refused = session.set_limits(zero_trials);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == FailureKind::invalid_argument);
  REQUIRE(session.set_limits(Limits{}).ok());
  REQUIRE(session.set_knob("nope", "1").ok());
  auto unknown = session.run();
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == FailureKind::run);
  CHECK(unknown.error().message.find("nope") != std::string::npos);
}

TEST_CASE("a change after compiling is compiled again by the next run") {
  Session session = test_session();
  require_compiles(session, policy(kQuantBody));
  REQUIRE(session.bind_model("teacher", kBaseline).ok());  // the script declares no teacher
  auto report = session.run();
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().kind == FailureKind::compile);
}

TEST_CASE("the saved model's path is reported") {
  Session session = test_session();
  std::string path = "build-embed-test-" + std::to_string(::getpid()) + ".safetensors";
  require_compiles(session, policy(std::string(kQuantBody) + "save small to \"" + path + "\";\n"));
  auto report = session.run();
  REQUIRE(report.ok());
  REQUIRE(report->saved.size() == 1);
  CHECK(report->saved[0] == path);
  CHECK(std::remove(path.c_str()) == 0);
}

TEST_CASE("sessions run in parallel threads, and a moved-from session starts afresh") {
  Session first = test_session(), second = test_session();
  require_compiles(first, policy(kQuantBody));
  require_compiles(second, policy(kQuantBody));
  Result<Report> a = Failure{}, b = Failure{};
  std::thread one([&] { a = first.run(); });
  std::thread two([&] { b = second.run(); });
  one.join();
  two.join();
  CHECK(a.ok());
  CHECK(b.ok());

  Session moved = std::move(first);
  CHECK(moved.run().ok());
  CHECK(first.run().error().kind == FailureKind::no_program);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace kmr::embed_test
