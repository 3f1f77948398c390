// The linear-time matcher of "re:" targets against Python's re.match on the same patterns.
#include "runtime/target_pattern.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace rt = kmr::runtime;

TEST_SUITE("target_pattern") {
  TEST_CASE("the patterns llm-compressor configs use match as re.match does") {
    struct Case {
      const char* pattern;
      const char* name;
      bool match;  // what Python's re.match(pattern, name) is not None gives
    };
    const Case cases[] = {
        {".*lm_head", "lm_head", true},
        {".*lm_head", "model.lm_head", true},
        {".*lm_head", "model.embed", false},
        {R"(model\.layers\.\d+\.mlp)", "model.layers.12.mlp.up_proj", true},
        {R"(model\.layers\.\d+\.mlp)", "model.layers.x.mlp", false},
        {R"(.*mlp\.(up|gate)_proj$)", "m.mlp.up_proj", true},
        {R"(.*mlp\.(up|gate)_proj$)", "m.mlp.gate_proj", true},
        {R"(.*mlp\.(up|gate)_proj$)", "m.mlp.down_proj", false},
        {R"(.*mlp\.(up|gate)_proj$)", "m.mlp.up_proj.bias", false},
        {R"(.*(?:q|k|v)_proj)", "layers.0.self_attn.k_proj", true},
        {R"([^.]+\.weight)", "fc1.weight", true},
        {R"([^.]+\.weight)", "a.b.weight", false},
        {"[a-c]+$", "abc", true},
        {"[a-c]+$", "abcd", false},
        {"a?b", "b", true},
        {"a+?b", "aab", true},
        {"x|y", "yes", true},
        {"^fc", "fc1", true},
        {"", "anything", true},
        {R"(\w+\s)", "ab c", true},
        {R"(\D)", "7", false},
    };
    for (const Case& c : cases) {
      INFO(c.pattern << " on " << c.name);
      CHECK(rt::target_pattern_matches(c.pattern, c.name) == c.match);
    }
  }

  TEST_CASE("patterns outside the subset, too long or too deep match nothing") {
    CHECK_FALSE(rt::target_pattern_matches("a{2}", "aa"));
    CHECK_FALSE(rt::target_pattern_matches("(?=a)a", "a"));
    CHECK_FALSE(rt::target_pattern_matches(R"(\bfc)", "fc"));
    CHECK_FALSE(rt::target_pattern_matches("(a", "a"));
    CHECK_FALSE(rt::target_pattern_matches("a)", "a"));
    CHECK_FALSE(rt::target_pattern_matches("[a-", "a"));
    CHECK_FALSE(rt::target_pattern_matches("*a", "a"));
    CHECK_FALSE(rt::target_pattern_matches(std::string(70, '(') + "a" + std::string(70, ')'), "a"));
    CHECK(rt::target_pattern_matches(std::string(60, '(') + "a" + std::string(60, ')'), "a"));
    CHECK_FALSE(rt::target_pattern_matches(std::string(1001, 'a'), std::string(1001, 'a')));
  }

  TEST_CASE("catastrophic patterns for backtracking matchers finish at once") {
    const std::string name = std::string(5000, 'a') + "c";
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(rt::target_pattern_matches("(a*)*b", name));
    CHECK_FALSE(rt::target_pattern_matches("(a|aa)+$", std::string(5000, 'a') + "!"));
    CHECK(rt::target_pattern_matches("(a|aa)+$", std::string(5000, 'a')));
    // Not a timing test: a backtracking matcher would not finish at all.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  }
}
