// The spec's examples end to end over the shipped model (copies in examples/fashion_mnist/):
// the run is feasible, the saved file re-loads at exactly the size meter's bytes, and the
// chosen configuration, measured again by a fresh evaluator, meets every constraint.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "engine_fixture.h"
#include "runtime/compressed_layout.h"
#include "runtime/engine/run_program.h"
#include "runtime/fashion_mnist.h"

namespace kmr::engine {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `example` with its outputs redirected under a fresh directory.
void check_example(const std::string& example) {
  if (!runtime::check_fashion_mnist("test").ok()) return;  // Debian's dataset-fashion-mnist is absent
  char pattern[] = "/tmp/kmr-spec-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  std::string text = read_text("examples/fashion_mnist/" + example);
  REQUIRE_FALSE(text.empty());
  for (size_t at = text.find("\"out/"); at != std::string::npos; at = text.find("\"out/", at))
    text.replace(at, 5, "\"" + dir + "/out/");
  driver::Compilation compilation;
  bool ok = driver::parse_program_text(example, text, compilation) && driver::check_program(compilation);
  INFO(diag::render_all(compilation.diagnostics, compilation.sources));
  REQUIRE(ok);

  RunOptions options;
  options.threads = 2;
  options.kernel_cache_dir = dir + "/kernels";
  nlohmann::ordered_json report;
  options.report_out = &report;
  std::ostringstream out;
  auto status = run_program(compilation, options, out);
  INFO(out.str());
  REQUIRE(status.ok());
  REQUIRE(*status == kRunFeasible);
  const auto& chosen = report["trials"][report["chosen"].get<size_t>()];

  std::string saved;
  for (const auto& decl : compilation.modules.front()->decls)
    if (decl->kind == ast::DeclKind::Save) saved = static_cast<const ast::OutputDecl&>(*decl).path;
  auto checkpoint = runtime::CompressedCheckpoint::open(saved);
  REQUIRE(checkpoint.ok());
  uint64_t stored = 0;
  for (const auto& tensor : checkpoint->tensors()) {
    stored += tensor.stored_bytes();
    CHECK(checkpoint->decode(tensor).ok());
  }
  CHECK(static_cast<double>(stored) == chosen["meters"]["size"].get<double>());

  // Measured again from scratch, the chosen configuration meets every constraint.
  ModelStore store;
  KnobSpace space = build_knob_space(compilation.program).value();
  Configuration config = space.defaults();
  for (size_t slot = 0; slot < space.slots.size(); ++slot) {
    double value = chosen["knobs"][space.slots[slot].label()].get<double>();
    for (size_t i = 0; i < space.slots[slot].values.size(); ++i)
      if (space.slots[slot].values[i] == value) config[slot] = i;
  }
  auto evaluator = TrialEvaluator::create(compilation.program, *compilation.modules.front(), store, space,
                                          test::jit_kernels())
                       .value();
  auto again = evaluator->evaluate(config);
  REQUIRE(again.ok());
  CHECK(again->feasible);
  for (const auto& constraint : again->constraints) {
    CAPTURE(constraint.text);
    CHECK(constraint.holds);
  }
  CHECK(*again->meter("size") == chosen["meters"]["size"].get<double>());
}

TEST_CASE("spec example: quickstart") { check_example("quickstart.kmr"); }
TEST_CASE("spec example: mixed precision") { check_example("mixed_precision.kmr"); }
TEST_CASE("spec example: scripted policy") { check_example("scripted_policy.kmr"); }
// Trains students for a minute or more: its own ctest (engine_distill_lowrank), so it runs
// beside the other suites.
TEST_CASE("spec example: distill_lowrank") { check_example("distill_lowrank.kmr"); }

}  // namespace
}  // namespace kmr::engine
