// Runs end to end: the chosen model saved and re-loadable at exactly the encoded_size the
// meter reported, --set pins, infeasible budgets (exit 2, nothing written) and bad pins.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine_fixture.h"
#include "runtime/engine/run_program.h"
#include "runtime/mlp.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"

namespace kmr::engine {
namespace {

std::string temp_dir() {
  char pattern[] = "/tmp/kmr-run-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  REQUIRE(dir != nullptr);
  return dir;
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// JIT kernels cached under the test's own directory, never in the user's cache.
RunOptions options_in(const std::string& dir) {
  RunOptions options;
  options.threads = 2;
  options.kernel_cache_dir = dir + "/kernels";
  return options;
}

// The report without what may differ between identical runs: times and kernel statistics.
nlohmann::json comparable(const std::string& report_text) {
  nlohmann::json report = nlohmann::json::parse(report_text);
  report.erase("kernels");
  report.erase("seconds");
  for (auto& trial : report["trials"]) trial.erase("seconds");
  return report;
}

std::string policy(const std::string& dir, const std::string& budget, const std::string& search = "greedy(max_trials = 40)") {
  return "knob bits[t in base.match(\"fc*.weight\")] : int in {8, 4, 2} = 8;\n"
         "rule quant = quantize(bits, group = 32) on base.match(\"fc*.weight\");\n"
         "pipeline q = base |> quant;\n"
         "meter size : bytes = encoded_size(q);\n"
         "meter err : float = rel_error(q, base);\n"
         "budget size <= " + budget + ";\n"
         "objective minimize err;\n"
         "policy " + search + ";\n"
         "save q to \"" + dir + "/out/q.safetensors\";\n"
         "report to \"" + dir + "/out/q.json\";\n";
}

TEST_CASE("a feasible run saves the chosen model; its tensor bytes equal the size meter") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, options_in(dir), out);
  INFO(out.str());
  REQUIRE(status.ok());
  CHECK(*status == kRunFeasible);
  auto saved = runtime::SafetensorsFile::open(dir + "/out/q.safetensors");
  REQUIRE(saved.ok());
  uint64_t bytes = saved->file_size() - saved->data_start();
  CHECK(bytes <= 150 * 1024);
  CHECK(out.str().find(fmt::format("{:.2f} KiB", static_cast<double>(bytes) / 1024)) != std::string::npos);
  CHECK(exists(dir + "/out/q.json"));
  CHECK(saved->metadata().count("kmr.knobs") == 1);
}

TEST_CASE("tensors of other dtypes pass through a run into the saved file, byte for byte") {
  // Before the fix the size meter counted an I64 tensor that the save then dropped.
  std::string dir = temp_dir();
  auto base = runtime::SafetensorsFile::open("examples/fashion_mnist/mlp.safetensors");
  REQUIRE(base.ok());
  auto model = runtime::load_mlp(*base, runtime::Activation::relu);
  REQUIRE(model.ok());
  std::vector<runtime::TensorToWrite> tensors = runtime::mlp_tensors(*model);
  const std::vector<uint8_t> steps = {7, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  tensors.push_back({"steps", runtime::DType::I64, {2}, {steps.data(), steps.size()}});
  REQUIRE(runtime::write_safetensors(dir + "/with_steps.safetensors", tensors, {}).ok());

  auto compilation = test::compile_policy(
      "model counted = load(\"" + dir + "/with_steps.safetensors\", arch = mlp(act = relu));\n"
      "knob bits : int in {8, 4} = 8;\n"
      "rule quant = quantize(bits) on counted.match(\"fc*.weight\");\n"
      "pipeline q = counted |> quant;\n"
      "meter size : bytes = encoded_size(q);\n"
      "budget size <= 1 MiB;\n"
      "save q to \"" + dir + "/out/q.safetensors\";\n"
      "report to \"" + dir + "/out/q.json\";\n");
  std::ostringstream out;
  auto status = run_program(*compilation, options_in(dir), out);
  INFO(out.str());
  REQUIRE(status.ok());
  REQUIRE(*status == kRunFeasible);
  auto saved = runtime::SafetensorsFile::open(dir + "/out/q.safetensors");
  REQUIRE(saved.ok());
  const runtime::TensorInfo* kept = saved->find("steps");
  REQUIRE(kept != nullptr);
  CHECK(kept->dtype == runtime::DType::I64);
  auto bytes = saved->bytes(*kept);
  REQUIRE(bytes.ok());
  CHECK(std::vector<uint8_t>(bytes->data, bytes->data + bytes->size) == steps);
  const auto report = nlohmann::json::parse(read_file(dir + "/out/q.json"));
  const double size = report["trials"][report["chosen"].get<size_t>()]["meters"]["size"].get<double>();
  CHECK(static_cast<double>(saved->file_size() - saved->data_start()) == size);
}

TEST_CASE("an infeasible budget exits 2, names what the closest trial missed, and saves nothing") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "10 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, options_in(dir), out);
  REQUIRE(status.ok());
  CHECK(*status == kRunInfeasible);
  CHECK(out.str().find("no feasible configuration") != std::string::npos);
  CHECK(out.str().find("`size <= 10 KiB`") != std::string::npos);
  CHECK_FALSE(exists(dir + "/out/q.safetensors"));
}

TEST_CASE("--set pins a knob; unknown knobs and values outside the domain are errors") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out;
  RunOptions pinned = options_in(dir);
  pinned.pins = {{"bits", "4"}};
  auto status = run_program(*compilation, pinned, out);
  REQUIRE(status.ok());
  CHECK(out.str().find("bits[fc1.weight]") != std::string::npos);
  CHECK(out.str().find("1 trial") != std::string::npos);

  RunOptions unknown = options_in(dir);
  unknown.pins = {{"width", "4"}};
  auto failed = run_program(*compilation, unknown, out);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("no knob 'width' (its knobs: bits)") != std::string::npos);

  RunOptions outside = options_in(dir);
  outside.pins = {{"bits", "5"}};
  failed = run_program(*compilation, outside, out);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("outside the domain of knob 'bits'") != std::string::npos);
}

TEST_CASE("max_trials and time_limit from the options override the policy's own") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  nlohmann::ordered_json report;
  RunOptions capped = options_in(dir);
  capped.max_trials = 2;
  capped.report_out = &report;
  std::ostringstream out;
  auto status = run_program(*compilation, capped, out);
  REQUIRE(status.ok());
  CHECK(report["trials"].size() == 2);
  CHECK(out.str().find("greedy stopped at its trial or time limit") != std::string::npos);

  RunOptions timed = options_in(dir);
  timed.time_limit_seconds = 1e-9;  // spent before the first trial
  timed.report_out = &report;
  std::ostringstream timed_out;
  status = run_program(*compilation, timed, timed_out);
  REQUIRE(status.ok());
  CHECK(*status == kRunInfeasible);
  CHECK(report["trials"].empty());
  CHECK(timed_out.str().find("no trial fitted the search budget") != std::string::npos);
}

TEST_CASE("an output directory that cannot be created is an error, not a crash") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy("/proc/kmr-cannot-exist", "150 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, options_in(dir), out);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("cannot create directory") != std::string::npos);
}

TEST_CASE("a read-only output directory is an error naming the file, not a crash") {
  // /proc exists and refuses new files even to root, who ignores permission bits.
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(
      "knob bits : int in {8, 4} = 8;\n"
      "rule quant = quantize(bits) on base.match(\"fc*.weight\");\n"
      "pipeline q = base |> quant;\n"
      "meter size : bytes = encoded_size(q);\n"
      "budget size <= 1 MiB;\n"
      "save q to \"/proc/q.safetensors\";\n");
  std::ostringstream out;
  auto status = run_program(*compilation, options_in(dir), out);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("/proc/q.safetensors") != std::string::npos);
}

TEST_CASE("the same script gives the same report and byte-identical files; a second run compiles nothing") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out;
  REQUIRE(run_program(*compilation, options_in(dir), out).value() == kRunFeasible);
  std::string model = read_file(dir + "/out/q.safetensors");
  std::string report = read_file(dir + "/out/q.json");
  REQUIRE(run_program(*compilation, options_in(dir), out).value() == kRunFeasible);
  CHECK(read_file(dir + "/out/q.safetensors") == model);
  std::string again = read_file(dir + "/out/q.json");
  CHECK(comparable(again) == comparable(report));

  auto first = nlohmann::json::parse(report)["kernels"], second = nlohmann::json::parse(again)["kernels"];
  CHECK(first["engine"] == "jit");
  CHECK(first["compiled"].get<int>() >= 1);
  CHECK(first["disk_cache_writes"] == first["compiled"]);
  CHECK(second["compiled"] == 0);
  CHECK(second["disk_cache_hits"] == first["compiled"]);
}

TEST_CASE("the kernel statistics count the kernels the saves run") {
  // Without meters the search runs no kernel: the save is the first to compile one.
  std::string dir = temp_dir();
  auto compilation = test::compile_policy("rule quant = quantize(8) on base.match(\"fc*.weight\");\n"
                                          "pipeline q = base |> quant;\n"
                                          "save q to \"" + dir + "/out/q.safetensors\";\n"
                                          "report to \"" + dir + "/out/q.json\";\n");
  std::ostringstream out;
  REQUIRE(run_program(*compilation, options_in(dir), out).value() == kRunFeasible);
  auto kernels = nlohmann::json::parse(read_file(dir + "/out/q.json"))["kernels"];
  CHECK(kernels["compiled"].get<int>() >= 1);
  CHECK(out.str().find(fmt::format("; {} compiled,", kernels["compiled"].get<int>())) != std::string::npos);
  CHECK(out.str().find("saved q to") < out.str().find("kernels: "));
}

TEST_CASE("--no-jit runs the interpreter and saves the same bytes as the JIT") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out;
  REQUIRE(run_program(*compilation, options_in(dir), out).value() == kRunFeasible);
  std::string model = read_file(dir + "/out/q.safetensors");
  std::string report = read_file(dir + "/out/q.json");
  RunOptions interpreted = options_in(dir);
  interpreted.use_jit = false;
  REQUIRE(run_program(*compilation, interpreted, out).value() == kRunFeasible);
  CHECK(read_file(dir + "/out/q.safetensors") == model);
  CHECK(comparable(read_file(dir + "/out/q.json")) == comparable(report));
  CHECK(nlohmann::json::parse(read_file(dir + "/out/q.json"))["kernels"]["engine"] == "interpreter");
}

TEST_CASE("the progress line counts trials against the cap and is erased at the end") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out, progress;
  RunOptions options = options_in(dir);
  options.progress = &progress;
  REQUIRE(run_program(*compilation, options, out).ok());
  CHECK(progress.str().find("trial 1 of at most 40, ") != std::string::npos);
  CHECK(progress.str().find("best objective ") != std::string::npos);
  CHECK(progress.str().substr(progress.str().size() - 4) == "\r\x1b[K");
  CHECK(out.str().find("trial 1 of") == std::string::npos);
}

TEST_CASE("pareto writes its frontier into the report and plots it beside the report") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB", "pareto(max_trials = 27)"));
  std::ostringstream out;
  REQUIRE(run_program(*compilation, options_in(dir), out).value() == kRunFeasible);
  auto report = nlohmann::json::parse(read_file(dir + "/out/q.json"));
  REQUIRE(report["trials"].size() == 27);
  REQUIRE(report["pareto_frontier"].size() >= 2);
  std::string svg = read_file(dir + "/out/q.pareto.svg");
  REQUIRE_FALSE(svg.empty());
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(svg.find("budget: size &lt;= 150 KiB") != std::string::npos);
  CHECK(svg.find("minimize err") != std::string::npos);
  size_t circles = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) ++circles;
  CHECK(circles == 27 + 1);  // every trial, and the ring around the chosen one
  CHECK(out.str().find("pareto plot written to " + dir + "/out/q.pareto.svg") != std::string::npos);
}

}  // namespace
}  // namespace kmr::engine
