// Knob domains enumerated in order, families expanded per tensor.
#include <doctest/doctest.h>

#include "engine_fixture.h"
#include "runtime/engine/knob_space.h"

namespace kmr::engine {
namespace {

TEST_CASE("ranges, sets and bools enumerate their values; defaults are found") {
  auto compilation = test::compile_policy(
      "knob s : ratio in [0%, 90%] step 5% = 10%;\n"
      "knob b : int in {8, 6, 4} = 6;\n"
      "knob r : int in [4, 16] step 4 = 16;\n"
      "knob t : float in [1.0, 2.0] step 0.1 = 1.3;\n"
      "knob flag : bool = true;\n");
  auto space = build_knob_space(compilation->program);
  REQUIRE(space.ok());
  REQUIRE(space->slots.size() == 5);
  CHECK(space->slots[0].label() == "s");
  CHECK(space->slots[0].values.size() == 19);
  CHECK(space->slots[0].values[2] == doctest::Approx(0.10));
  CHECK(space->slots[0].values.back() == 0.9);
  CHECK(space->slots[0].default_index == 2);
  CHECK(space->slots[1].values == std::vector<double>{8, 6, 4});
  CHECK(space->slots[1].default_index == 1);
  CHECK(space->slots[2].values == std::vector<double>{4, 8, 12, 16});
  CHECK(space->slots[2].default_index == 3);
  CHECK(space->slots[3].values.size() == 11);
  CHECK(space->slots[3].default_index == 3);
  CHECK(space->slots[4].values == std::vector<double>{0, 1});
  CHECK(space->slots[4].default_index == 1);
  CHECK(space->size() == size_t{19} * 3 * 4 * 11 * 2);
}

TEST_CASE("a knob family has one slot per tensor it indexes, in checkpoint order") {
  auto compilation = test::compile_policy("knob bits[t in base.match(\"fc*.weight\")] : int in {8, 4, 2} = 8;\n");
  auto space = build_knob_space(compilation->program);
  REQUIRE(space.ok());
  REQUIRE(space->slots.size() == 3);
  CHECK(space->slots[0].label() == "bits[fc1.weight]");
  CHECK(space->slots[2].label() == "bits[fc3.weight]");
  CHECK(space->find("bits", "fc2.weight") == 1);
  CHECK(space->find("bits") == -1);
}

TEST_CASE("a float range without a step cannot be searched") {
  auto compilation = test::compile_policy("knob t : float in [1.0, 2.0] = 1.0;\n");
  auto space = build_knob_space(compilation->program);
  REQUIRE_FALSE(space.ok());
  CHECK(space.error().message.find("needs a step") != std::string::npos);
}

}  // namespace
}  // namespace kmr::engine
