// The CSV loader: headers, label columns by name or index, integer and string labels, and
// errors that name the line.
#include "runtime/csv_dataset.h"

#include <doctest/doctest.h>

#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

rt::CsvData parse(const std::string& text, rt::CsvOptions options) {
  kmr::Expected<rt::CsvData> data = rt::parse_csv_dataset(text, "t.csv", options);
  REQUIRE_MESSAGE(data.ok(), (data.ok() ? "" : data.error().message));
  return std::move(data).value();
}

std::string error_of(const std::string& text, rt::CsvOptions options) {
  kmr::Expected<rt::CsvData> data = rt::parse_csv_dataset(text, "t.csv", options);
  REQUIRE_FALSE(data.ok());
  return data.error().message;
}

rt::CsvOptions label(const std::string& name) { return {rt::CsvLabelColumn::by_name(name)}; }

}  // namespace

TEST_SUITE("csv_dataset") {
  TEST_CASE("a label column in the middle, integer labels, quoting, CRLF, a BOM and blank lines") {
    const std::string text =
        "\xEF\xBB\xBF"
        "width, class ,\"height, cm\"\r\n"
        "1.5,2,-3\r\n"
        "\r\n"
        "  +4e1 ,0,\"5\"\r\n"
        " \t \n"
        "0.25, 1 ,6";  // no final newline
    const rt::CsvData csv = parse(text, label("class"));
    CHECK(csv.feature_names == std::vector<std::string>{"width", "height, cm"});
    CHECK(csv.label_name == "class");
    CHECK(csv.class_names.empty());
    CHECK(csv.data.count == 3);
    CHECK(csv.data.features == 2);
    CHECK(csv.data.num_classes == 3);
    CHECK(csv.data.inputs == std::vector<float>{1.5f, -3.0f, 40.0f, 5.0f, 0.25f, 6.0f});
    CHECK(csv.data.labels == std::vector<std::int32_t>{2, 0, 1});
  }

  TEST_CASE("string labels become classes in order of first appearance") {
    const std::string text =
        "sepal,petal,species\n"
        "5.1,1.4,setosa\n"
        "7.0,4.7,versicolor\n"
        "5.0,1.3, setosa\n"
        "6.3,6.0,\"virginica\"\n"
        "6.4,4.5,versicolor\n";
    const rt::CsvData csv = parse(text, label("species"));
    CHECK(csv.class_names == std::vector<std::string>{"setosa", "versicolor", "virginica"});
    CHECK(csv.data.labels == std::vector<std::int32_t>{0, 1, 0, 2, 1});
    CHECK(csv.data.num_classes == 3);

    // One label that is not an integer makes them all names, in order of appearance.
    const rt::CsvData mixed = parse("x,y\n1,7\n2,1.0\n3,7\n", label("y"));
    CHECK(mixed.class_names == std::vector<std::string>{"7", "1.0"});
    CHECK(mixed.data.labels == std::vector<std::int32_t>{0, 1, 0});
  }

  TEST_CASE("label by index, quoted quotes, and a row limit") {
    const std::string text = "\"a \"\"q\"\"\",b,c\n0,1,2\n3,4,5\n6,7,8\n";
    rt::CsvOptions options{rt::CsvLabelColumn::by_index(0)};
    options.limit = 2;
    const rt::CsvData csv = parse(text, options);
    CHECK(csv.label_name == "a \"q\"");
    CHECK(csv.data.count == 2);
    CHECK(csv.data.labels == std::vector<std::int32_t>{0, 3});
    CHECK(csv.data.num_classes == 4);
    CHECK(csv.data.inputs == std::vector<float>{1, 2, 4, 5});

    options.delimiter = ';';
    options.limit = -1;
    CHECK(parse("l;f\n1;2.5\n", options).data.inputs == std::vector<float>{2.5f});
  }

  TEST_CASE("errors name the line, counting lines inside quoted fields") {
    const rt::CsvOptions y = label("y");
    CHECK(error_of("x,y\n1,\"multi\nline\"\n1,2\n3\n", y) == "t.csv:5: the row has 1 fields but the header has 2");
    CHECK(error_of("x,y\n1,2\n1,2,3\n", y) == "t.csv:3: the row has 3 fields but the header has 2");
    CHECK(error_of("x,y\n1,0\nabc,1\n", y) == "t.csv:3: column 'x': 'abc' is not a number");
    CHECK(error_of("x,y\n1.5.2,1\n", y) == "t.csv:2: column 'x': '1.5.2' is not a number");
    CHECK(error_of("x,y\n ,1\n", y) == "t.csv:2: column 'x': empty cell: every feature must be a number");
    CHECK(error_of("x,y\nnan,1\n", y) == "t.csv:2: column 'x': 'nan' is not a finite number");
    CHECK(error_of("x,y\n1e39,1\n", y) == "t.csv:2: column 'x': '1e39' is outside the range of f32");
    CHECK(error_of("x,y\n+-1,1\n", y) == "t.csv:2: column 'x': '+-1' is not a number");
    CHECK(error_of("x,y\n1,\n", y) == "t.csv:2: empty label in column 'y'");
    CHECK(error_of("x,y\n1,0\n2,-1\n", y) ==
          "t.csv:3: label -1 is outside [0, 2147483647): integer class labels count from 0");
    CHECK(error_of("x,y\n1,2147483647\n", y) ==
          "t.csv:2: label 2147483647 is outside [0, 2147483647): integer class labels count from 0");
    CHECK(error_of("x,y\n1,0\n\"2,1\n", y) == "t.csv:3: unterminated quoted field");
    CHECK(error_of("x,y\n\"1\"2,0\n", y) == "t.csv:2: unexpected '2' after a closing quote");
  }

  TEST_CASE("empty files, header-only files and missing label columns are errors") {
    CHECK(error_of("", label("y")) == "t.csv: empty file: expected a header row naming the columns");
    CHECK(error_of("\n  \n", label("y")) == "t.csv: empty file: expected a header row naming the columns");
    CHECK(error_of("x,y\n", label("y")) == "t.csv: no data rows after the header");
    CHECK(error_of("x,y\n1,2\n", label("label")) ==
          "t.csv:1: no label column named 'label' in the header (columns: x, y)");
    CHECK(error_of("y,x,y\n1,2,3\n", label("y")) ==
          "t.csv:1: the label column 'y' appears twice in the header (columns 1 and 3)");
    CHECK(error_of("x,y\n1,2\n", {rt::CsvLabelColumn::by_index(2)}) ==
          "t.csv:1: label column 2 is outside the header's 2 columns (numbered from 0)");
    CHECK(error_of("y\n1\n", label("y")) == "t.csv: no feature columns besides the label column");
  }

  TEST_CASE("load_csv_dataset reads a file and names it in errors") {
    rt::testing::TempDir dir;
    rt::testing::write_file(dir.file("iris.csv"), "a,b,label\n0.5,1,cat\n2,3,dog\n");
    kmr::Expected<rt::CsvData> csv = rt::load_csv_dataset(dir.file("iris.csv"), label("label"));
    REQUIRE(csv.ok());
    CHECK(csv->data.count == 2);
    CHECK(csv->class_names == std::vector<std::string>{"cat", "dog"});

    rt::testing::write_file(dir.file("bad.csv"), "a,label\n1,0\nx,1\n");
    CHECK(rt::load_csv_dataset(dir.file("bad.csv"), label("label")).error().message ==
          dir.file("bad.csv") + ":3: column 'a': 'x' is not a number");
    CHECK(rt::load_csv_dataset(dir.file("missing.csv"), label("label")).error().message ==
          dir.file("missing.csv") + ": cannot open the file");
  }
}
