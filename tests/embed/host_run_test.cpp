// Host meters, rules and data sets called by a run (test suite "host_run": these need the
// engine to honour RunOptions::host and fill RunOptions::report_out).
#include <kmr/kmr.h>

#include <cmath>
#include <stdexcept>

#include "session_fixture.h"

namespace kmr::embed_test {
namespace {

// Bytes of the weight matrices only: a meter a Python-free deployment might care about.
Result<double> weight_bytes(const MeterCall& call) {
  if (call.models.size() != 1) return fail("expected one model");
  double bytes = 0;
  for (const auto& tensor : call.models[0].tensors)
    if (tensor.shape.size() == 2) bytes += static_cast<double>(tensor.encoded_bytes);
  return bytes;
}

TEST_SUITE("host_run") {
  TEST_CASE("the report is data: baseline, trials, the chosen knobs") {
    Session session = test_session();
    require_compiles(session, policy(kQuantBody));
    auto report = session.run();
    REQUIRE(report.ok());
    CHECK(report->policy == "grid");
    REQUIRE(report->trials.size() == 2);
    REQUIRE(report->chosen_trial() != nullptr);
    CHECK(lookup(report->chosen_trial()->knobs, "bits") == 4.0);
    CHECK(lookup(report->baseline, "size") > lookup(report->chosen_trial()->meters, "size"));
    REQUIRE(report->chosen_trial()->constraints.size() == 1);
    CHECK(report->chosen_trial()->constraints[0].kind == "budget");
    CHECK(report->chosen_trial()->constraints[0].holds);
    CHECK(report->json.find("\"trials\"") != std::string::npos);
  }

  TEST_CASE("a host meter measures each trial's model") {
    Session session = test_session();
    int calls = 0;
    REQUIRE(session
                .add_meter("weight_bytes", {{"model", Type::Model}}, Type::Bytes,
                           [&](const MeterCall& call) {
                             ++calls;
                             return weight_bytes(call);
                           })
                .ok());
    require_compiles(session, policy(std::string(kQuantBody) + "meter wb : bytes = weight_bytes(small);\n"
                                                               "budget wb <= 150 KiB;\n"));
    auto report = session.run();
    INFO((report ? std::string() : report.error().message));
    REQUIRE(report.ok());
    CHECK(calls >= 2);
    REQUIRE(report->chosen_trial() != nullptr);
    auto chosen = lookup(report->chosen_trial()->meters, "wb");
    REQUIRE(chosen);
    CHECK(*chosen > 0);
    CHECK(*chosen <= 150 * 1024);
    CHECK(lookup(report->baseline, "wb") == 4.0 * (256 * 784 + 128 * 256 + 10 * 128));
  }

  TEST_CASE("a host meter receives data and numbers in signature order") {
    Session session = test_session();
    std::vector<float> images(3 * 784, 0.5f);
    REQUIRE(session.bind_data("calib", images, 784, {0, 1, 2}).ok());
    std::vector<double> seen_numbers;
    int64_t seen_rows = 0;
    REQUIRE(session
                .add_meter("probe",
                           {{"model", Type::Model}, {"scale", Type::Float}, {"data", Type::Data}, {"cap", Type::Bytes}},
                           Type::Float,
                           [&](const MeterCall& call) -> Result<double> {
                             seen_numbers = call.numbers;
                             seen_rows = call.data.at(0).count;
                             return 1.0;
                           })
                .ok());
    require_compiles(session, policy(std::string(kQuantBody) +
                                     "data calib = fashion_mnist(\"test\", path = \"/no/such/dir\");\n"
                                     "meter p : float = probe(small, 2.5, calib, 1 KiB);\nrequire p >= 0.0;\n"));
    auto report = session.run();
    INFO((report ? std::string() : report.error().message));
    REQUIRE(report.ok());
    CHECK(seen_numbers == std::vector<double>{2.5, 1024});
    CHECK(seen_rows == 3);
  }

  TEST_CASE("named arguments reach a host meter in signature order") {
    Session session = test_session();
    std::vector<double> seen;
    REQUIRE(session
                .add_meter("weigh", {{"model", Type::Model}, {"scale", Type::Float}, {"cap", Type::Bytes}}, Type::Float,
                           [&](const MeterCall& call) -> Result<double> {
                             seen = call.numbers;
                             return 1.0;
                           })
                .ok());
    require_compiles(session, policy(std::string(kQuantBody) + "meter w : float = weigh(cap = 1 KiB, model = small, "
                                                               "scale = 2.5);\nrequire w >= 0.0;\n"));
    auto report = session.run();
    INFO((report ? std::string() : report.error().message));
    REQUIRE(report.ok());
    CHECK(seen == std::vector<double>{2.5, 1024});
  }

  TEST_CASE("a host rule transforms each selected tensor") {
    Session session = test_session();
    std::vector<std::string> tensors;
    std::vector<double> args;
    REQUIRE(session
                .add_rule("zero_small", {{"below", Type::Float}},
                          [&](const RuleCall& call) -> Result<std::vector<float>> {
                            tensors.push_back(call.tensor);
                            args = call.args;
                            std::vector<float> out = call.values;
                            for (float& v : out)
                              if (std::fabs(v) < call.args[0]) v = 0;
                            return out;
                          })
                .ok());
    require_compiles(session, "import \"host\";\n" + policy("knob t : float in {0.0, 0.05} = 0.0;\n"
                                                            "rule z = zero_small(t) on base.match(\"fc*.weight\");\n"
                                                            "pipeline sparse = base |> z;\n"
                                                            "meter s : ratio = sparsity(sparse);\n"
                                                            "objective maximize s;\npolicy grid();\n"));
    auto report = session.run();
    INFO((report ? std::string() : report.error().message));
    REQUIRE(report.ok());
    CHECK_FALSE(tensors.empty());
    CHECK(args == std::vector<double>{0.05});
    REQUIRE(report->chosen_trial() != nullptr);
    CHECK(lookup(report->chosen_trial()->knobs, "t") == 0.05);
    CHECK(*lookup(report->chosen_trial()->meters, "s") > 0.1);
  }

  TEST_CASE("a callable that fails or throws is an error naming it") {
    Session session = test_session();
    REQUIRE(session
                .add_meter("boom", {{"model", Type::Model}}, Type::Float,
                           [](const MeterCall&) -> Result<double> { throw std::runtime_error("out of coffee"); })
                .ok());
    REQUIRE(session
                .add_meter("refuse", {{"model", Type::Model}}, Type::Float,
                           [](const MeterCall&) -> Result<double> { return fail("no GPU here"); })
                .ok());
    require_compiles(session, policy(std::string(kQuantBody) + "meter b : float = boom(small);\nrequire b >= 0.0;\n"));
    auto thrown = session.run();
    REQUIRE_FALSE(thrown.ok());
    CHECK(thrown.error().kind == FailureKind::run);
    CHECK(thrown.error().message.find("host meter 'boom' threw an exception: out of coffee") != std::string::npos);

    require_compiles(session,
                     policy(std::string(kQuantBody) + "meter r : float = refuse(small);\nrequire r >= 0.0;\n"));
    auto refused = session.run();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("host meter 'refuse' failed: no GPU here") != std::string::npos);

    auto shrink = [](const RuleCall& call) -> Result<std::vector<float>> { return std::vector<float>(1, 0.0f); };
    REQUIRE(session.add_rule("shrink", {}, shrink).ok());
    require_compiles(session, "import \"host\";\n" + policy("rule s = shrink() on base.match(\"fc1.weight\");\n"
                                                            "pipeline p = base |> s;\n"
                                                            "meter n : int = nnz(p);\nobjective minimize n;\n"));
    auto wrong_size = session.run();
    REQUIRE_FALSE(wrong_size.ok());
    CHECK(wrong_size.error().message.find("host rule 'shrink' returned 1 values") != std::string::npos);
  }
}

}  // namespace
}  // namespace kmr::embed_test
