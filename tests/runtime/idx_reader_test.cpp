// The IDX reader and data set loaders against files the test writes, valid and broken.
#include "runtime/idx_reader.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "runtime/dataset.h"
#include "runtime/fashion_mnist.h"
#include "test_support.h"

namespace rt = kmr::runtime;
using namespace std::string_literals;  // "..."s keeps embedded NUL bytes

namespace {

std::string idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const std::string& data) {
  std::string out = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return out + data;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::string error_of(const std::string& path) {
  kmr::Expected<rt::IdxArray> a = rt::read_idx(path);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message.rfind(path + ":", 0) == 0);
  return a.error().message;
}

// `count` fake 28×28 images whose pixels encode their index, and labels i % 10.
void write_fake_fashion(const rt::testing::TempDir& dir, const std::string& prefix, std::uint32_t count, bool gz) {
  std::string pixels, labels;
  for (std::uint32_t i = 0; i < count; ++i) {
    pixels += std::string(784, static_cast<char>(i * 10));
    labels.push_back(static_cast<char>(i % 10));
  }
  const std::string images = idx_bytes(0x08, {count, 28, 28}, pixels);
  const std::string label_file = idx_bytes(0x08, {count}, labels);
  if (gz) {
    write_gz(dir.file(prefix + "-images-idx3-ubyte.gz"), images);
    write_gz(dir.file(prefix + "-labels-idx1-ubyte.gz"), label_file);
  } else {
    rt::testing::write_file(dir.file(prefix + "-images-idx3-ubyte"), images);
    rt::testing::write_file(dir.file(prefix + "-labels-idx1-ubyte"), label_file);
  }
}

}  // namespace

TEST_SUITE("idx_reader") {
  TEST_CASE("plain and gzip files read the same values, in every element type") {
    rt::testing::TempDir dir;
    const std::string i16 = idx_bytes(0x0B, {2, 2}, std::string("\x00\x01\xff\xfe\x7f\xff\x80\x00", 8));
    rt::testing::write_file(dir.file("a.idx"), i16);
    write_gz(dir.file("a.idx.gz"), i16);
    for (const std::string name : {"a.idx", "a.idx.gz"}) {
      kmr::Expected<rt::IdxArray> a = rt::read_idx(dir.file(name));
      REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
      CHECK(a->header.gzip == (name == "a.idx.gz"));
      CHECK(a->header.dims == std::vector<std::int64_t>{2, 2});
      CHECK(a->items == 2);
      CHECK(a->item_size == 2);
      CHECK(a->value(0) == 1);
      CHECK(a->value(1) == -2);
      CHECK(a->value(2) == 32767);
      CHECK(a->value(3) == -32768);
    }
    rt::testing::write_file(dir.file("f.idx"), idx_bytes(0x0D, {1}, std::string("\x3f\xc0\x00\x00", 4)));
    rt::testing::write_file(dir.file("d.idx"),
                            idx_bytes(0x0E, {1}, std::string("\xc0\x04\x00\x00\x00\x00\x00\x00", 8)));
    rt::testing::write_file(dir.file("i.idx"), idx_bytes(0x0C, {1}, std::string("\xff\xff\xff\xfd", 4)));
    rt::testing::write_file(dir.file("s.idx"), idx_bytes(0x09, {1}, std::string("\x80", 1)));
    CHECK(rt::read_idx(dir.file("f.idx"))->value(0) == 1.5);
    CHECK(rt::read_idx(dir.file("d.idx"))->value(0) == -2.5);
    CHECK(rt::read_idx(dir.file("i.idx"))->value(0) == -3);
    CHECK(rt::read_idx(dir.file("s.idx"))->value(0) == -128);
  }

  TEST_CASE("reading a limited number of items stops early") {
    rt::testing::TempDir dir;
    write_gz(dir.file("l.gz"), idx_bytes(0x08, {5}, "\x01\x02\x03\x04\x05"));
    kmr::Expected<rt::IdxArray> a = rt::read_idx(dir.file("l.gz"), 2);
    REQUIRE(a.ok());
    CHECK(a->items == 2);
    CHECK(a->raw == std::vector<std::uint8_t>{1, 2});
    CHECK(rt::read_idx(dir.file("l.gz"), 99)->items == 5);
  }

  TEST_CASE("corrupt and truncated files fail with specific messages") {
    rt::testing::TempDir dir;
    const std::string good = idx_bytes(0x08, {4, 2}, "abcdefgh");
    auto put = [&](const std::string& name, const std::string& bytes) {
      rt::testing::write_file(dir.file(name), bytes);
      return dir.file(name);
    };
    CHECK(error_of(put("magic", "\x01\x00\x08\x01\x00\x00\x00\x01x"s)).find("bad magic number") != std::string::npos);
    CHECK(error_of(put("type", idx_bytes(0x07, {1}, "x"))).find("unknown IDX element type 0x07") != std::string::npos);
    CHECK(error_of(put("nodims", idx_bytes(0x08, {}, ""))).find("dimension count 0") != std::string::npos);
    CHECK(error_of(put("header", "\x00\x00\x08\x02\x00\x00"s)).find("truncated: the header ends early") !=
          std::string::npos);
    CHECK(error_of(put("short", good.substr(0, good.size() - 3))).find("(truncated)") != std::string::npos);
    CHECK(error_of(put("long", good + "zz")).find("(trailing bytes)") != std::string::npos);
    CHECK(error_of(put("empty", "")).find("truncated") != std::string::npos);
    CHECK(error_of(put("overflow", idx_bytes(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}, "")))
              .find("dimensions overflow") != std::string::npos);

    // A gzip stream cut short: the trailer is gone, and with it the declared size.
    write_gz(dir.file("full.gz"), idx_bytes(0x08, {3000}, std::string(3000, '\x07')));
    const std::string gz = rt::testing::read_file(dir.file("full.gz"));
    CHECK(error_of(put("cut.gz", gz.substr(0, gz.size() - 6))).find("truncated or corrupt") != std::string::npos);
    // Corrupt deflate data behind an intact trailer.
    std::string garbled = gz;
    for (std::size_t i = 12; i < garbled.size() - 8; ++i) garbled[i] = static_cast<char>(garbled[i] ^ 0x5a);
    const std::string message = error_of(put("garbled.gz", garbled));
    CHECK((message.find("corrupt") != std::string::npos || message.find("bad magic") != std::string::npos ||
           message.find("truncated") != std::string::npos));
    CHECK_FALSE(rt::read_idx_header(dir.file("missing.idx")).ok());
    REQUIRE(::mkfifo(dir.file("fifo.idx").c_str(), 0600) == 0);
    CHECK(error_of(dir.file("fifo.idx")) == dir.file("fifo.idx") + ": not a regular file");
  }

  TEST_CASE("an IDX pair loads as a data set; mismatched counts are an error naming both files") {
    rt::testing::TempDir dir;
    rt::testing::write_file(dir.file("x"), idx_bytes(0x08, {3, 2}, std::string("\x00\xff\x33\x66\x99\xcc", 6)));
    rt::testing::write_file(dir.file("y"), idx_bytes(0x08, {3}, "\x02\x00\x01"s));
    rt::testing::write_file(dir.file("y2"), idx_bytes(0x08, {2}, "\x02\x00"s));
    rt::testing::write_file(dir.file("yf"), idx_bytes(0x0D, {3}, std::string(12, '\0')));
    kmr::Expected<rt::Dataset> d = rt::load_idx_dataset(dir.file("x"), dir.file("y"), -1);
    REQUIRE(d.ok());
    CHECK(d->count == 3);
    CHECK(d->features == 2);
    CHECK(d->num_classes == 3);
    CHECK(d->inputs == std::vector<float>{0.0f, 1.0f, 0.2f, 0.4f, 0.6f, 0.8f});
    CHECK(d->labels == std::vector<std::int32_t>{2, 0, 1});
    kmr::Expected<rt::Dataset> bad = rt::load_idx_dataset(dir.file("x"), dir.file("y2"), -1);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == dir.file("x") + " holds 3 examples but " + dir.file("y2") + " holds 2 labels");
    CHECK(rt::load_idx_dataset(dir.file("x"), dir.file("yf"), -1).error().message.find("must be integers") !=
          std::string::npos);
  }

  TEST_CASE("fashion_mnist loads Debian-style files, plain or gzip, and checks headers cheaply") {
    rt::testing::TempDir dir;
    write_fake_fashion(dir, "train", 12, true);
    write_fake_fashion(dir, "t10k", 5, false);
    kmr::Expected<rt::Dataset> train = rt::load_fashion_mnist("train", 7, dir.path());
    REQUIRE_MESSAGE(train.ok(), (train.ok() ? "" : train.error().message));
    CHECK(train->count == 7);
    CHECK(train->features == 784);
    CHECK(train->num_classes == 10);
    CHECK(train->inputs[784 * 3] == 30.0f / 255.0f);
    CHECK(train->labels[6] == 6);
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", -1, dir.path());
    REQUIRE(test.ok());
    CHECK(test->count == 5);
    CHECK(rt::check_fashion_mnist("train", dir.path()).ok());
    CHECK(rt::check_fashion_mnist("test", dir.path()).ok());

    kmr::Status bad_split = rt::check_fashion_mnist("validation", dir.path());
    REQUIRE_FALSE(bad_split.ok());
    CHECK(bad_split.error().message.find("unknown split \"validation\"") != std::string::npos);
    kmr::Status missing = rt::check_fashion_mnist("train", dir.file("nowhere"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("train-images-idx3-ubyte.gz: cannot open") != std::string::npos);

    // Wrong image size, and a label outside 0-9.
    rt::testing::write_file(dir.file("t10k-images-idx3-ubyte"),
                            idx_bytes(0x08, {1, 27, 28}, std::string(27 * 28, '\0')));
    CHECK(rt::check_fashion_mnist("test", dir.path()).error().message.find("[N, 28, 28]") != std::string::npos);
    rt::testing::write_file(dir.file("t10k-images-idx3-ubyte"), idx_bytes(0x08, {1, 28, 28}, std::string(784, '\0')));
    rt::testing::write_file(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(0x08, {1}, "\x0a"));
    CHECK(rt::check_fashion_mnist("test", dir.path()).ok());  // header-only check
    CHECK(rt::load_fashion_mnist("test", -1, dir.path()).error().message.find("not a Fashion-MNIST class") !=
          std::string::npos);
  }

  TEST_CASE("the installed data set, when present, has the published sizes" *
            doctest::skip(!std::filesystem::exists(rt::default_fashion_mnist_dir()))) {
    CHECK(rt::check_fashion_mnist("train", rt::default_fashion_mnist_dir()).ok());
    CHECK(rt::check_fashion_mnist("test", rt::default_fashion_mnist_dir()).ok());
    kmr::Expected<rt::Dataset> test = rt::load_fashion_mnist("test", 100, rt::default_fashion_mnist_dir());
    REQUIRE(test.ok());
    CHECK(test->count == 100);
    CHECK(*std::max_element(test->inputs.begin(), test->inputs.end()) <= 1.0f);
  }
}
