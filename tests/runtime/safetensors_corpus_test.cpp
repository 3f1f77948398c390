// A corpus of malformed safetensors files, each of which must fail with its own message.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/random.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;
using rt::testing::safetensors_bytes;

namespace {

struct BadFile {
  const char* label;
  std::string bytes;
  const char* expected;     // substring of the error message
  const char* tensor = "";  // the tensor the message must name, if any
};

std::string length_prefix(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

std::string one(const std::string& entry, const std::string& data = std::string(4, '\0')) {
  return safetensors_bytes("{\"a\":" + entry + "}", data);
}

std::vector<BadFile> corpus() {
  const std::string ok_entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  return {
      {"empty file", "", "too short for the 8-byte header length"},
      {"five bytes", "\x01\x02\x03\x04\x05", "too short for the 8-byte header length"},
      {"header over the limit", length_prefix(100'000'001) + "{}", "exceeds the limit of 100000000 bytes"},
      {"header length 2^63", length_prefix(1ull << 63) + "{}", "exceeds the limit"},
      {"header past end of file", length_prefix(64) + "{}", "runs past the end of the file"},
      {"header not an object", safetensors_bytes("[1, 2]", ""), "does not start with '{'"},
      {"header with leading space", safetensors_bytes(" {}", ""), "does not start with '{'"},
      {"header not JSON", safetensors_bytes("{\"a\": ", ""), "not valid JSON"},
      {"header invalid UTF-8", safetensors_bytes("{\"\xff\xfe\": 1}", ""), "UTF-8"},
      {"trailing junk in header", safetensors_bytes("{}\x01", ""), "not valid JSON"},
      {"duplicate tensor", safetensors_bytes("{\"a\":" + ok_entry + ",\"a\":" + ok_entry + "}", std::string(4, '\0')),
       "duplicate key \"a\""},
      {"duplicate metadata key", safetensors_bytes(R"({"__metadata__":{"k":"1","k":"2"}})", ""),
       "duplicate key \"k\" in \"__metadata__\""},
      {"metadata not an object", safetensors_bytes(R"({"__metadata__":"x"})", ""), "__metadata__ must be an object"},
      {"metadata value not a string", safetensors_bytes(R"({"__metadata__":{"k":1}})", ""),
       "__metadata__ entry 'k' must be a string"},
      {"entry not an object", one("[1]"), "entry must be an object", "a"},
      {"missing dtype", one(R"({"shape":[1],"data_offsets":[0,4]})"), "missing \"dtype\"", "a"},
      {"dtype not a string", one(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})"), "\"dtype\" must be a string", "a"},
      {"unknown dtype", one(R"({"dtype":"F33","shape":[1],"data_offsets":[0,4]})"), "unknown dtype \"F33\"", "a"},
      {"lower-case dtype", one(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"), "unknown dtype \"f32\"", "a"},
      {"missing shape", one(R"({"dtype":"F32","data_offsets":[0,4]})"), "missing \"shape\"", "a"},
      {"shape not a list", one(R"({"dtype":"F32","shape":4,"data_offsets":[0,4]})"),
       "\"shape\" must be a list of non-negative integers", "a"},
      {"negative dimension", one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"),
       "\"shape\" must be a list of non-negative integers, found -1", "a"},
      {"fractional dimension", one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})"),
       "\"shape\" must be a list of non-negative integers, found 1.5", "a"},
      {"dimension past int64", one(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]})"),
       "\"shape\" must be a list of non-negative integers", "a"},
      {"missing data_offsets", one(R"({"dtype":"F32","shape":[1]})"), "missing \"data_offsets\"", "a"},
      {"three data_offsets", one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})"),
       "\"data_offsets\" must be [begin, end]", "a"},
      {"negative data_offset", one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"),
       "\"data_offsets\" must be [begin, end]", "a"},
      {"end before begin", one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})"), "end 0 is before begin 4", "a"},
      {"span too short for shape", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"),
       "needs 8 bytes but data_offsets span 4", "a"},
      {"element count overflows", one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})"),
       "element count of shape [4294967296, 4294967296] overflows", "a"},
      {"byte count overflows", one(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]})"),
       "is not a whole number of bytes or overflows", "a"},
      {"odd count of 4-bit floats", one(R"({"dtype":"F4","shape":[3],"data_offsets":[0,2]})"),
       "is not a whole number of bytes", "a"},
      {"gap before first tensor", one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", std::string(8, '\0')),
       "gap in the data section: bytes [0, 4) before tensor 'a'"},
      {"overlapping tensors",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                         std::string(6, '\0')),
       "overlap tensor 'a'", "b"},
      {"data truncated", one(ok_entry, std::string(2, '\0')), "tensors need 4 bytes of data but the file holds 2"},
      {"trailing bytes", one(ok_entry, std::string(7, '\0')), "3 trailing bytes after the last tensor's data"},
  };
}

}  // namespace

TEST_SUITE("safetensors_corpus") {
  TEST_CASE("every malformed file is rejected with its specific message naming the file") {
    rt::testing::TempDir dir;
    const std::vector<BadFile> files = corpus();
    CHECK(files.size() >= 20);
    int index = 0;
    for (const BadFile& bad : files) {
      const std::string path = dir.file("bad" + std::to_string(index++) + ".safetensors");
      rt::testing::write_file(path, bad.bytes);
      INFO("case: " << bad.label);
      kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
      REQUIRE_FALSE(file.ok());
      const std::string& message = file.error().message;
      INFO("message: " << message);
      CHECK(message.rfind(path + ":", 0) == 0);
      CHECK(message.find(bad.expected) != std::string::npos);
      if (*bad.tensor != '\0') CHECK(message.find(std::string("tensor '") + bad.tensor + "'") != std::string::npos);
    }
  }

  TEST_CASE("a missing file, a directory and a FIFO are rejected, naming the path") {
    rt::testing::TempDir dir;
    kmr::Expected<rt::SafetensorsFile> missing = rt::SafetensorsFile::open(dir.file("nope.safetensors"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("nope.safetensors: cannot open") != std::string::npos);
    kmr::Expected<rt::SafetensorsFile> directory = rt::SafetensorsFile::open(dir.path());
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error().message == dir.path() + ": not a regular file");
    const std::string fifo = dir.file("pipe.safetensors");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    kmr::Expected<rt::SafetensorsFile> pipe = rt::SafetensorsFile::open(fifo);  // must not block
    REQUIRE_FALSE(pipe.ok());
    CHECK(pipe.error().message == fifo + ": not a regular file");
  }

  TEST_CASE("valid edge cases are accepted: no tensors, scalars, empty tensors, padding") {
    rt::testing::TempDir dir;
    const std::string path = dir.file("edge.safetensors");
    rt::testing::write_file(path, safetensors_bytes(R"({"e":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},)"
                                                    R"("s":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                                                    R"("z":{"dtype":"BOOL","shape":[0],"data_offsets":[8,8]}}    )",
                                                    std::string(8, '\x01')));
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE_MESSAGE(file.ok(), (file.ok() ? "" : file.error().message));
    REQUIRE(file->tensors().size() == 3);
    CHECK(file->tensors()[0].name == "e");  // ties in offsets keep header order
    CHECK(file->tensors()[1].name == "s");
    CHECK(file->find("s")->shape.empty());
    CHECK(file->find("z")->begin == 8);

    const std::string nothing = dir.file("nothing.safetensors");
    rt::testing::write_file(nothing, safetensors_bytes("{}", ""));
    kmr::Expected<rt::SafetensorsFile> empty = rt::SafetensorsFile::open(nothing);
    REQUIRE(empty.ok());
    CHECK(empty->tensors().empty());
  }

  TEST_CASE("randomly corrupted files are either rejected or fully consistent, never a crash") {
    rt::testing::TempDir dir;
    const std::string f32 = rt::testing::pattern_bytes(24, 1);
    const std::string i8 = rt::testing::pattern_bytes(5, 2);
    const std::string good_path = dir.file("good.safetensors");
    REQUIRE(rt::write_safetensors(
                good_path,
                {{"w", rt::DType::F32, {2, 3}, {reinterpret_cast<const std::uint8_t*>(f32.data()), f32.size()}},
                 {"q", rt::DType::I8, {5}, {reinterpret_cast<const std::uint8_t*>(i8.data()), i8.size()}}},
                {{"k", "v"}})
                .ok());
    const std::string good = rt::testing::read_file(good_path);
    rt::Rng rng(2024);
    static const char kJsonish[] = "{}[]\":,0123456789 -e.";
    int accepted = 0;
    for (int trial = 0; trial < 3000; ++trial) {
      std::string bytes = good;
      const int edits = 1 + static_cast<int>(rng.below(4));
      for (int e = 0; e < edits; ++e) {
        const std::uint64_t kind = rng.below(4);
        const std::size_t at = static_cast<std::size_t>(rng.below(bytes.size() + 1));
        if (kind == 0 && at < bytes.size()) bytes[at] = static_cast<char>(rng.below(256));
        if (kind == 1) bytes.resize(at);
        if (kind == 2) bytes.insert(at, 1, static_cast<char>(rng.below(256)));
        if (kind == 3 && at < bytes.size()) bytes[at] = kJsonish[rng.below(sizeof kJsonish - 1)];
      }
      const std::string path = dir.file("fuzz.safetensors");
      rt::testing::write_file(path, bytes);
      kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
      if (!file) {
        REQUIRE(file.error().message.rfind(path + ":", 0) == 0);
        continue;
      }
      ++accepted;
      std::uint64_t covered = 0;
      for (const rt::TensorInfo& t : file->tensors()) {
        REQUIRE(t.begin == covered);
        covered = t.end;
        REQUIRE(file->bytes(t).ok());
        if (rt::dtype_converts_to_f32(t.dtype)) {
          REQUIRE(file->to_f32(t).ok());
        }
      }
      REQUIRE(covered == file->file_size() - file->data_start());
    }
    CHECK(accepted > 0);  // some edits (metadata text, data bytes) keep the file valid
  }
}
