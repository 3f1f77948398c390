// Writer → reader round trips for every dtype, plus the writer's own checks and layout.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "runtime/float_codec.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

rt::ByteView view(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

std::string bytes_of(const rt::SafetensorsFile& file, const rt::TensorInfo& t) {
  kmr::Expected<rt::ByteView> raw = file.bytes(t);
  REQUIRE(raw.ok());
  return std::string(reinterpret_cast<const char*>(raw->data), raw->size);
}

}  // namespace

TEST_SUITE("safetensors_roundtrip") {
  TEST_CASE("every dtype survives write then read bit-exactly, with scalars and empty tensors") {
    rt::testing::TempDir dir;
    std::vector<std::string> payloads;
    std::vector<rt::TensorToWrite> tensors;
    std::uint32_t seed = 1;
    // All payloads first: views taken while the vector still grows would dangle.
    for (rt::DType d : rt::kAllDTypes) {
      // Sub-byte dtypes need element counts that fill whole bytes: 8 × 4 bits, 4 × 6 bits.
      const std::vector<std::vector<std::int64_t>> shapes = {{2, 4}, {8}, {0, 3}};
      for (std::size_t s = 0; s < shapes.size(); ++s) {
        const std::uint64_t size = *rt::checked_byte_size(d, shapes[s]);
        payloads.push_back(rt::testing::pattern_bytes(size, seed++));
      }
      if (rt::dtype_bits(d) % 8 == 0) {  // a scalar of a sub-byte type is not a whole byte
        payloads.push_back(rt::testing::pattern_bytes(rt::dtype_bits(d) / 8, seed++));
      }
    }
    std::size_t p = 0;
    for (rt::DType d : rt::kAllDTypes) {
      const std::string base(rt::dtype_name(d));
      tensors.push_back({base + ".matrix", d, {2, 4}, view(payloads[p++])});
      tensors.push_back({base + ".vector", d, {8}, view(payloads[p++])});
      tensors.push_back({base + ".empty", d, {0, 3}, view(payloads[p++])});
      if (rt::dtype_bits(d) % 8 == 0) tensors.push_back({base + ".scalar", d, {}, view(payloads[p++])});
    }
    const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "héllo ✓"}};
    const std::string path = dir.file("all.safetensors");
    kmr::Status written = rt::write_safetensors(path, tensors, metadata);
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));

    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE_MESSAGE(file.ok(), (file.ok() ? "" : file.error().message));
    CHECK(file->metadata() == metadata);
    CHECK(file->tensors().size() == tensors.size());
    CHECK(file->data_start() % 8 == 0);
    for (const rt::TensorToWrite& t : tensors) {
      INFO(t.name);
      const rt::TensorInfo* info = file->find(t.name);
      REQUIRE(info != nullptr);
      CHECK(info->dtype == t.dtype);
      CHECK(info->shape == t.shape);
      CHECK(bytes_of(*file, *info) == std::string(reinterpret_cast<const char*>(t.data.data), t.data.size));
    }

    // Reading back and writing again reproduces the file byte for byte.
    std::vector<rt::TensorToWrite> again;
    for (const rt::TensorInfo& info : file->tensors())
      again.push_back({info.name, info.dtype, info.shape, *file->bytes(info)});
    const std::string copy = dir.file("copy.safetensors");
    REQUIRE(rt::write_safetensors(copy, again, file->metadata()).ok());
    CHECK(rt::testing::read_file(copy) == rt::testing::read_file(path));
  }

  TEST_CASE("the header is padded with spaces to 8 bytes and tensors are laid out by name") {
    rt::testing::TempDir dir;
    const std::string four(4, '\x11');
    const std::string eight(8, '\x22');
    const std::string path = dir.file("order.safetensors");
    REQUIRE(rt::write_safetensors(
                path, {{"zeta", rt::DType::F32, {1}, view(four)}, {"alpha", rt::DType::F64, {1}, view(eight)}}, {})
                .ok());
    const std::string raw = rt::testing::read_file(path);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(raw[i]);
    CHECK(n % 8 == 0);
    const std::string header = raw.substr(8, n);
    CHECK(header.find("__metadata__") == std::string::npos);
    CHECK(header.find("\"alpha\"") < header.find("\"zeta\""));
    CHECK(header.find("\"data_offsets\":[0,8]") != std::string::npos);
    CHECK(header.back() == ' ');
    CHECK(raw.substr(8 + n) == eight + four);
  }

  TEST_CASE("to_f32 decodes float dtypes and refuses the others by name") {
    rt::testing::TempDir dir;
    const float values[3] = {1.5f, -2.25f, 65504.0f};
    std::string f32(reinterpret_cast<const char*>(values), sizeof values);
    std::string f16, bf16;
    for (float v : values) {
      const std::uint16_t h = rt::f32_to_f16(v), b = rt::f32_to_bf16(v);
      f16.append({static_cast<char>(h & 0xff), static_cast<char>(h >> 8)});
      bf16.append({static_cast<char>(b & 0xff), static_cast<char>(b >> 8)});
    }
    const std::string ints(12, '\x01');
    const std::string path = dir.file("floats.safetensors");
    REQUIRE(rt::write_safetensors(path,
                                  {{"f32", rt::DType::F32, {3}, view(f32)},
                                   {"f16", rt::DType::F16, {3}, view(f16)},
                                   {"bf16", rt::DType::BF16, {3}, view(bf16)},
                                   {"ints", rt::DType::I32, {3}, view(ints)}},
                                  {})
                .ok());
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE(file.ok());
    CHECK(*file->to_f32(*file->find("f32")) == std::vector<float>(values, values + 3));
    CHECK(*file->to_f32(*file->find("f16")) == std::vector<float>(values, values + 3));
    CHECK(*file->to_f32(*file->find("bf16")) == std::vector<float>{1.5f, -2.25f, 65536.0f});
    kmr::Expected<std::vector<float>> refused = file->to_f32(*file->find("ints"));
    REQUIRE_FALSE(refused.ok());
    CHECK(
        refused.error().message ==
        path +
            ": tensor 'ints' has dtype I32, which does not convert to f32 (only F16, BF16, F32, F64 and F8 floats do)");
  }

  TEST_CASE("a file that shrinks after opening is reported instead of crashing on access") {
    rt::testing::TempDir dir;
    const std::string data(64, '\x3f');
    const std::string path = dir.file("shrink.safetensors");
    REQUIRE(rt::write_safetensors(path, {{"w", rt::DType::F32, {16}, view(data)}}, {}).ok());
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE(file.ok());
    REQUIRE(::truncate(path.c_str(), 16) == 0);
    kmr::Expected<std::vector<float>> values = file->to_f32(*file->find("w"));
    REQUIRE_FALSE(values.ok());
    CHECK(values.error().message.find("changed size while in use") != std::string::npos);

    rt::TensorInfo foreign{"other", rt::DType::F32, {1}, 0, 4};
    REQUIRE_FALSE(file->bytes(foreign).ok());
  }

  TEST_CASE("the writer rejects what the reader would reject, naming the tensor") {
    rt::testing::TempDir dir;
    const std::string path = dir.file("bad.safetensors");
    const std::string four(4, '\0');
    auto error_of = [&](std::vector<rt::TensorToWrite> tensors, std::map<std::string, std::string> meta = {}) {
      kmr::Status s = rt::write_safetensors(path, tensors, meta);
      REQUIRE_FALSE(s.ok());
      return s.error().message;
    };
    CHECK(error_of({{"w", rt::DType::F32, {2}, view(four)}}) ==
          path + ": tensor 'w': shape [2] of F32 needs 8 bytes but 4 were given");
    CHECK(error_of({{"w", rt::DType::F32, {1}, view(four)}, {"w", rt::DType::F32, {1}, view(four)}}) ==
          path + ": tensor 'w' is given twice");
    CHECK(error_of({{"__metadata__", rt::DType::F32, {1}, view(four)}}).find("reserved") != std::string::npos);
    CHECK(error_of({{"", rt::DType::F32, {1}, view(four)}}).find("empty name") != std::string::npos);
    CHECK(error_of({{"w", rt::DType::F4, {3}, view(four)}}).find("not a whole number of bytes") != std::string::npos);
    CHECK(error_of({{"w", rt::DType::F32, {-1}, view(four)}}).find("invalid or overflows") != std::string::npos);
    CHECK(error_of({{"w\xff", rt::DType::F32, {1}, view(four)}}).find("not valid UTF-8") != std::string::npos);
    CHECK(error_of({}, {{"k", "\xc3"}}).find("not valid UTF-8") != std::string::npos);
    CHECK(dir.entries().empty());
  }
}
