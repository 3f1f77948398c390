// Hostile input: every case gets a located diagnostic, never a crash or a hang.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "compile_helpers.h"

namespace kmr::test {
namespace {

std::string temp_dir() {
  char pattern[] = "/tmp/kmr-bad-input-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  REQUIRE(dir != nullptr);
  return dir;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST_CASE("invalid UTF-8 and NUL bytes are located") {
  CHECK(has(compile("knob a : int in {1} = 1;\n// caf\xC3\n"), "E001@2:7"));
  CHECK(has(compile("knob \xFF : int in {1} = 1;"), "E001@1:6"));
  CHECK(has(compile("knob a : int in {1} = 1;\xED\xA0\x80"), "E001@1:25"));  // a surrogate
  CHECK(has(compile(std::string("knob a\0 : int in {1} = 1;", 25)), "E002@1:7"));
}

TEST_CASE("unterminated strings and comments") {
  CHECK(has(compile("save m to \"out/x;\n"), "E004@1:11"));
  CHECK(has(compile("knob a : int in {1} = 1; /* open"), "E005@1:26"));
}

TEST_CASE("10,000 nested parentheses are refused before they reach the parser") {
  std::string deep = "knob k : int in [0, 1] = " + std::string(10000, '(') + "1" + std::string(10000, ')') + ";";
  CHECK(has(compile(deep), "E008"));
  std::string lists = "knob k : int in {" + std::string(10000, '[') + std::string(10000, ']') + "} = 1;";
  CHECK(has(compile(lists), "E008"));
}

TEST_CASE("long operator chains and prefix chains are refused, not recursed into") {
  std::string chain = "knob k : int in [0, 1] = 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  CHECK(has(compile(chain + ";"), "E013"));
  CHECK(has(compile("knob k : int in [0, 1] = " + std::string(100000, '-') + "1;"), "E013"));
  CHECK(has(compile("require " + std::string(50000, 'n') + ";"), "E031"));  // a long name is fine
}

TEST_CASE("long postfix chains and else-if chains are bounded too") {
  std::string index = "knob k : int in [0, 1] = a";
  for (int i = 0; i < 50000; ++i) index += "[0]";
  CHECK(has(compile(index + ";"), "E013"));
  std::string chain = "policy p { if true { accept; }";
  for (int i = 0; i < 50000; ++i) chain += " else if true { accept; }";
  CHECK(has(compile(chain + " }"), "E008"));
}

TEST_CASE("input just inside the limits parses, formats and checks without running out of stack") {
  std::string sum = "knob k : int in [0, 1] = 1";  // `[` counts as one operator
  for (int i = 0; i < 999; ++i) sum += " + 0";
  CHECK(compile(sum + ";") == std::vector<std::string>{"W001@1:6"});
  std::string nested = "knob k : int in [0, 1] = " + std::string(127, '(') + "1" + std::string(127, ')') + ";";
  CHECK(compile(nested) == std::vector<std::string>{"W001@1:6"});
  std::string chain = "knob s : int in {1} = 1;\npolicy p { if s > 0 { accept; }";
  for (int i = 0; i < 999; ++i) chain += " else if s > 0 { accept; }";
  CHECK(compile(chain + " }").empty());
}

TEST_CASE("a 50 MB file is refused before it is read") {
  std::string dir = temp_dir();
  std::string path = dir + "/huge.kmr";
  {
    std::ofstream out(path, std::ios::binary);
    std::string line = "knob k : int in {1, 2} = 1;\n";
    for (size_t written = 0; written < (50u << 20); written += line.size()) out << line;
  }
  CHECK(has(compile_file(path), "E003"));
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("numbers that overflow and unknown units") {
  CHECK(has(compile("knob k : int in [0, 10] = 99999999999999999999999;"), "E009@1:27"));
  CHECK(has(compile("knob k : float in [0.0, 1.0] = 1e999;"), "E009"));
  CHECK(has(compile("budget s <= 3 parsecs;"), "E010@1:15"));
}

TEST_CASE("duplicate names and cyclic pipelines") {
  CHECK(has(compile("knob a : int in {1} = 1;\nknob a : int in {1} = 1;"), "E030@2:6"));
  CHECK(has(compile("pipeline a = b;\npipeline b = c;\npipeline c = a;"), "E033"));
}

TEST_CASE("imports that loop or do not exist") {
  std::string dir = temp_dir();
  write_file(dir + "/a.kmr", "import \"b\";\nknob ka : int in {1} = 1;\n");
  write_file(dir + "/b.kmr", "import \"a.kmr\";\nknob kb : int in {1} = 1;\n");
  write_file(dir + "/self.kmr", "import \"self\";\n");
  write_file(dir + "/missing.kmr", "import \"nowhere/x\";\n");
  CHECK(has(compile_file(dir + "/a.kmr"), "E021@1:8"));
  CHECK(has(compile_file(dir + "/self.kmr"), "E021"));
  CHECK(has(compile_file(dir + "/missing.kmr"), "E020@1:8"));
  CHECK(has(compile_file(dir + "/does-not-exist.kmr"), "E011"));
  for (const char* name : {"a.kmr", "b.kmr", "self.kmr", "missing.kmr"}) std::remove((dir + "/" + name).c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("a directory or an empty file") {
  CHECK(has(compile_file("/tmp"), "E011"));
  CHECK(compile("").empty());
}

}  // namespace
}  // namespace kmr::test
