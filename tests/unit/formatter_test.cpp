// The formatter: output re-parses to the same AST, is idempotent, and keeps every comment.
#include <doctest/doctest.h>

#include <dirent.h>

#include "compile_helpers.h"
#include "compiler/syntax/formatter.h"

namespace kmr::test {
namespace {

std::string format_text(const std::string& text) {
  driver::Compilation compilation;
  uint32_t file = compilation.sources.add("t.kmr", text);
  auto module = syntax::parse_module(compilation.sources, file, compilation.diagnostics);
  REQUIRE_FALSE(compilation.diagnostics.has_errors());
  return syntax::format_module(module);
}

void check_round_trip(const std::string& text) {
  std::string once = format_text(text);
  CHECK(ast_of(once) == ast_of(text));
  CHECK(format_text(once) == once);
}

std::vector<std::string> kmr_files(const std::string& relative_dir) {
  std::vector<std::string> out;
  DIR* dir = ::opendir((std::string(KMR_SOURCE_DIR) + "/" + relative_dir).c_str());
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".kmr") == 0) out.push_back(relative_dir + "/" + name);
  }
  ::closedir(dir);
  return out;
}

TEST_CASE("every stdlib module and example round-trips through the formatter") {
  auto files = kmr_files("stdlib");
  for (const auto& file : kmr_files("examples/fashion_mnist")) files.push_back(file);
  REQUIRE(files.size() >= 4);
  for (const auto& file : files) {
    CAPTURE(file);
    check_round_trip(read_project_file(file));
  }
}

TEST_CASE("parentheses are kept exactly where precedence needs them") {
  CHECK(format_text("knob k : int in [0, 9] = (1 + 2) * 3;") == "knob k : int in [0, 9] = (1 + 2) * 3;\n");
  CHECK(format_text("knob k : int in [0, 9] = 1 + (2 * 3);") == "knob k : int in [0, 9] = 1 + 2 * 3;\n");
  CHECK(format_text("knob k : int in [0, 9] = 9 - (3 - 2);") == "knob k : int in [0, 9] = 9 - (3 - 2);\n");
  CHECK(format_text("knob k : int in [0, 9] = (2 ^ 3) ^ 2;") == "knob k : int in [0, 9] = (2 ^ 3) ^ 2;\n");
  CHECK(format_text("knob k : int in [0, 9] = (-2) ^ 2;") == "knob k : int in [0, 9] = (-2) ^ 2;\n");
  CHECK(format_text("knob k : int in [0, 9] = - -2;") == "knob k : int in [0, 9] = -(-2);\n");
  check_round_trip("knob k : int in [0, 9] = not (a and b) or -(x - 1) ^ 2;");
}

TEST_CASE("comments and blank lines survive formatting") {
  std::string source =
      "// header\n\nknob a : int in {1, 2} = 1; // trailing\n/* block */\nkernel k(w: tensor) -> tensor {\n"
      "  // inside\n  yield w; // after yield\n  // at the end\n}\n// file end\n";
  std::string formatted = format_text(source);
  for (const char* comment : {"// header", "// trailing", "/* block */", "// inside", "// after yield", "// at the end",
                              "// file end"})
    CHECK(formatted.find(comment) != std::string::npos);
  CHECK(formatted.find("// header\n\nknob a") != std::string::npos);
  check_round_trip(source);
}

TEST_CASE("calls too long for a line wrap their arguments, aligned after the parenthesis") {
  std::string source =
      "rule student = distill(teacher, hidden = [width * 2, width], temperature = temp, alpha = 0.7, epochs = 3, "
      "data = train);";
  std::string formatted = format_text(source);
  CHECK(formatted ==
        "rule student = distill(teacher, hidden = [width * 2, width], temperature = temp, alpha = 0.7,\n"
        "                       epochs = 3, data = train);\n");
  check_round_trip(source);
}

TEST_CASE("strings are re-escaped") {
  check_round_trip("save m to \"out/a \\\"quoted\\\" \\\\ name\\n\";");
}

}  // namespace
}  // namespace kmr::test
