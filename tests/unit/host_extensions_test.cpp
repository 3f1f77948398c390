// The checker's view of an embedding application: host meters with their signatures and
// units, rules from a virtual `host` module, and bound models and data sets.
#include <doctest/doctest.h>

#include <thread>

#include "compile_helpers.h"

namespace kmr::test {
namespace {

const std::string kBaseline = std::string(KMR_SOURCE_DIR) + "/examples/fashion_mnist/mlp.safetensors";

const char* kScript =
    "import \"std/quant\";\n"
    "model base = load(\"m.safetensors\", arch = mlp(act = relu));\n"
    "knob bits : int in {8, 4} = 8;\n"
    "rule quant = quantize(bits) on base.match(\"fc*.weight\");\n"
    "pipeline small = base |> quant;\n";

sema::Builtin latency_meter() {
  return {"latency", sema::BuiltinKind::Meter, {{"model", sema::Type::Model, true}}, sema::Type::Duration};
}

sema::CheckOptions with_latency() {
  sema::CheckOptions options;
  options.probe_files = false;
  options.host_meters = {latency_meter()};
  return options;
}

// Parses `text` with `virtual_modules` and checks it under `options`; diagnostics in brief form.
std::vector<std::string> check(const std::string& text, const sema::CheckOptions& options,
                               std::map<std::string, std::string> virtual_modules = {}) {
  driver::Compilation compilation;
  compilation.virtual_modules = std::move(virtual_modules);
  if (driver::parse_program_text("test.kmr", text, compilation)) driver::check_program(compilation, options);
  std::vector<std::string> out;
  for (const auto& d : compilation.diagnostics.sorted()) out.push_back(brief(d));
  return out;
}

TEST_CASE("a host meter is called like a prelude meter, with its unit") {
  auto clean =
      check(std::string(kScript) + "meter lat : duration = latency(small);\nbudget lat <= 3 ms;\n", with_latency());
  CHECK(clean.empty());
  CHECK(check(std::string(kScript) + "budget latency(small) <= 3 ms;\n", with_latency()).empty());
  CHECK(has(
      check(std::string(kScript) + "meter lat : duration = latency(small);\nbudget lat <= 3 KiB;\n", with_latency()),
      "E041@7:8"));
  CHECK(has(check(std::string(kScript) + "meter lat : bytes = latency(small);\nbudget lat <= 3 KiB;\n", with_latency()),
            "E040@6:21"));
  CHECK(has(
      check(std::string(kScript) + "meter lat : duration = latency(small, 3);\nbudget lat <= 3 ms;\n", with_latency()),
      "E043"));
  CHECK(has(check(std::string(kScript) +
                      "knob k : int in {1} = 1;\nmeter lat : duration = latency(k);\nbudget lat <= 3 ms;\n",
                  with_latency()),
            "E040@7:32"));
}

TEST_CASE("a host meter belongs where meters do, and only in the session that registers it") {
  CHECK(has(check(std::string(kScript) + "knob k : int in {1} = latency(small);\n", with_latency()), "E032"));
  sema::CheckOptions plain;
  plain.probe_files = false;
  CHECK(has(check(std::string(kScript) + "meter lat : duration = latency(small);\nbudget lat <= 3 ms;\n", plain),
            "E031"));
}

TEST_CASE("a host meter cannot take a prelude or program name") {
  sema::CheckOptions options = with_latency();
  options.host_meters.push_back(
      {"top1", sema::BuiltinKind::Meter, {{"model", sema::Type::Model, true}}, sema::Type::Ratio});
  CHECK(has(check(kScript, options), "E030@0:0"));
  CHECK(has(check(std::string(kScript) + "meter latency : int = 1;\nbudget latency <= 3;\n", with_latency()),
            "E030@6:7"));
}

TEST_CASE("checks in parallel keep their host meters apart") {
  std::vector<std::string> with, without;
  std::thread first([&] { with = check(std::string(kScript) + "budget latency(small) <= 3 ms;\n", with_latency()); });
  std::thread second([&] {
    sema::CheckOptions plain;
    plain.probe_files = false;
    without = check(std::string(kScript) + "budget latency(small) <= 3 ms;\n", plain);
  });
  first.join();
  second.join();
  CHECK(with.empty());
  CHECK(has(without, "E031"));
}

TEST_CASE("rules of the host come from the virtual module a script imports") {
  std::map<std::string, std::string> host = {{"host", "native kernel clip(w: tensor, k: float) -> tensor;\n"}};
  std::string rule = "rule c = clip(2.5) on base.match(\"fc*.weight\");\npipeline clipped = base |> c;\n";
  CHECK(check(std::string("import \"host\";\n") + kScript + rule, with_latency(), host).empty());
  CHECK(has(check(kScript + rule, with_latency(), host), "E031"));
  CHECK(has(check(std::string("import \"host\";\n") + kScript + "rule c = clip(true) on base.match(\"fc*.weight\");\n",
                  with_latency(), host),
            "E040"));
  // An empty host module (no rules registered) still imports.
  CHECK(check(std::string("import \"host\";\n") + kScript, with_latency(), {{"host", ""}}).empty());
}

TEST_CASE("a bound model is probed at its bound path") {
  sema::CheckOptions options;
  options.bound_models = {{"base", kBaseline}};
  driver::Compilation compilation;
  REQUIRE(driver::parse_program_text("test.kmr", kScript, compilation));
  CHECK(driver::check_program(compilation, options));
  CHECK(compilation.program.models.at("base").path == kBaseline);

  options.bound_models = {{"base", "no/such/model.safetensors"}};
  auto missing = check(kScript, options);
  CHECK(has(missing, "E090@2:14"));
  options.bound_models = {{"teacher", kBaseline}};
  CHECK(has(check(kScript, options), "E031@0:0"));
}

TEST_CASE("a bound data set's source is not opened") {
  std::string script = std::string(kScript) + "data calib = idx(\"no-images.idx\", \"no-labels.idx\");\n";
  sema::CheckOptions options;
  options.bound_models = {{"base", kBaseline}};
  CHECK(has(check(script, options), "E091"));
  options.bound_data = {"calib"};
  CHECK(check(script, options).empty());
  options.bound_data = {"base"};
  CHECK(has(check(script, options), "E031@0:0"));
}

}  // namespace
}  // namespace kmr::test
