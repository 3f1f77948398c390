// Runs end to end: the chosen model saved and re-loadable at exactly the encoded_size the
// meter reported, --set pins, infeasible budgets (exit 2, nothing written) and bad pins.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "engine_fixture.h"
#include "runtime/engine/run_program.h"
#include "runtime/safetensors_reader.h"

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

std::string policy(const std::string& dir, const std::string& budget) {
  return "knob bits[t in base.match(\"fc*.weight\")] : int in {8, 4, 2} = 8;\n"
         "rule quant = quantize(bits, group = 32) on base.match(\"fc*.weight\");\n"
         "pipeline q = base |> quant;\n"
         "meter size : bytes = encoded_size(q);\n"
         "meter err : float = rel_error(q, base);\n"
         "budget size <= " + budget + ";\n"
         "objective minimize err;\n"
         "policy greedy(max_trials = 40);\n"
         "save q to \"" + dir + "/out/q.safetensors\";\n"
         "report to \"" + dir + "/out/q.json\";\n";
}

TEST_CASE("a feasible run saves the chosen model; its tensor bytes equal the size meter") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "150 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, RunOptions{}, out);
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

TEST_CASE("an infeasible budget exits 2, names what the closest trial missed, and saves nothing") {
  std::string dir = temp_dir();
  auto compilation = test::compile_policy(policy(dir, "10 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, RunOptions{}, out);
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
  RunOptions pinned;
  pinned.pins = {{"bits", "4"}};
  auto status = run_program(*compilation, pinned, out);
  REQUIRE(status.ok());
  CHECK(out.str().find("bits[fc1.weight]") != std::string::npos);
  CHECK(out.str().find("1 trial") != std::string::npos);

  RunOptions unknown;
  unknown.pins = {{"width", "4"}};
  auto failed = run_program(*compilation, unknown, out);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("no knob 'width' (its knobs: bits)") != std::string::npos);

  RunOptions outside;
  outside.pins = {{"bits", "5"}};
  failed = run_program(*compilation, outside, out);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("outside the domain of knob 'bits'") != std::string::npos);
}

TEST_CASE("an output directory that cannot be created is an error, not a crash") {
  auto compilation = test::compile_policy(policy("/proc/kmr-cannot-exist", "150 KiB"));
  std::ostringstream out;
  auto status = run_program(*compilation, RunOptions{}, out);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("cannot create directory") != std::string::npos);
}

}  // namespace
}  // namespace kmr::engine
