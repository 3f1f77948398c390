// A corpus of malformed compressed groups, each of which must fail with its own message
// naming the stored tensor at fault.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "compressed_samples.h"
#include "runtime/bit_packing.h"
#include "runtime/checkpoint_decompression.h"
#include "runtime/checkpoint_summary.h"
#include "runtime/compressed_layout.h"
#include "runtime/little_endian.h"
#include "runtime/random.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

struct Stored {
  rt::DType dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

// A safetensors file described tensor by tensor, so a case can drop or replace one part.
struct FileSpec {
  std::map<std::string, Stored> tensors;
  std::map<std::string, std::string> metadata;

  void i32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<std::uint32_t>& v) {
    std::string b(v.size() * 4, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) rt::store_le32(reinterpret_cast<std::uint8_t*>(&b[4 * i]), v[i]);
    tensors[name] = {rt::DType::I32, std::move(shape), b};
  }
  void i64(const std::string& name, std::vector<std::int64_t> shape, const std::vector<std::int64_t>& v) {
    std::string b(v.size() * 8, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) {
      rt::store_le64(reinterpret_cast<std::uint8_t*>(&b[8 * i]), static_cast<std::uint64_t>(v[i]));
    }
    tensors[name] = {rt::DType::I64, std::move(shape), b};
  }
  void f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
    std::string b(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(&b[0], v.data(), b.size());
    tensors[name] = {rt::DType::F32, std::move(shape), b};
  }
  void bytes(const std::string& name, rt::DType dtype, std::vector<std::int64_t> shape, const std::vector<int>& v) {
    std::string b;
    for (int x : v) b.push_back(static_cast<char>(x));
    tensors[name] = {dtype, std::move(shape), b};
  }

  void write(const std::string& path) const {
    std::vector<rt::TensorToWrite> list;
    for (const auto& [name, t] : tensors) {
      list.push_back({name, t.dtype, t.shape, {reinterpret_cast<const std::uint8_t*>(t.bytes.data()), t.bytes.size()}});
    }
    kmr::Status ok = rt::write_safetensors(path, list, metadata);
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
  }
};

std::string config_json(int bits, const std::string& strategy, int group, bool symmetric, const std::string& module,
                        const std::string& format) {
  return R"({"quant_method":"compressed-tensors","format":")" + format +
         R"(","config_groups":{"group_0":{"targets":[")" + module + R"("],"weights":{"num_bits":)" +
         std::to_string(bits) + R"(,"type":"int","symmetric":)" + (symmetric ? "true" : "false") + R"(,"strategy":")" +
         strategy + R"(","group_size":)" + (group > 0 ? std::to_string(group) : "null") + "}}}}";
}

// A valid 4-bit file: fc.weight [2, 20] in groups of 8 (8, 8, 4), asymmetric when asked.
FileSpec packed_file(bool symmetric = true) {
  FileSpec f;
  std::vector<std::int8_t> codes(40);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int8_t>(static_cast<int>(i % 16) - 8);
  std::vector<std::uint8_t> packed(4 * 2 * 3);
  rt::pack_rows(codes.data(), 2, 20, 4, packed.data());
  std::vector<std::uint32_t> words(6);
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = rt::load_le32(packed.data() + 4 * i);
  f.i32("fc.weight_packed", {2, 3}, words);
  f.f32("fc.weight_scale", {2, 3}, {0.5f, 0.25f, 1, 2, 4, 8});
  f.i64("fc.weight_shape", {2}, {2, 20});
  if (!symmetric) f.i32("fc.weight_zero_point", {1, 3}, {0x00000088u, 0x00000099u, 0x000000AAu});
  f.metadata["quantization_config"] = config_json(4, "group", 8, symmetric, "fc", "pack-quantized");
  return f;
}

// A valid int-quantized file: fc.weight I8 [2, 3], per-row scales, `bits` in the config.
FileSpec int8_file(int bits = 8) {
  FileSpec f;
  f.bytes("fc.weight", rt::DType::I8, {2, 3}, {1, 2, 3, -1, -2, -3});
  f.f32("fc.weight_scale", {2, 1}, {0.5f, 0.25f});
  f.metadata["quantization_config"] = config_json(bits, "channel", 0, true, "fc", "int-quantized");
  return f;
}

FileSpec sparse_file() {
  FileSpec f;
  f.bytes("sp.bitmask", rt::DType::U8, {2, 2}, {0x05, 0x01, 0x00, 0x00});  // [2, 9]: row 0 has 3 values
  f.f32("sp.compressed", {3}, {1, 2, 3});
  f.i64("sp.row_offsets", {2}, {0, 3});
  f.i64("sp.shape", {2}, {2, 9});
  return f;
}

// A valid sparse-quantized file: sq.weight [2, 12], 3-bit per row, asymmetric with zero
// points [0, -1]. Row 0 stores codes 3, -4, 1 at columns 2, 8, 11; row 1 stores 2 at
// column 0 and is -1 (its zero point) elsewhere.
FileSpec sparse_quantized_file() {
  FileSpec f;
  f.bytes("sq.bitmask", rt::DType::U8, {2, 2}, {0x04, 0x09, 0x01, 0x00});
  f.i32("sq.weight_packed", {1}, {0xD47u});  // fields 7, 0, 5, 6 (code + 4), 3 bits each
  f.f32("sq.weight_scale", {2, 1}, {0.5f, 0.25f});
  f.i64("sq.weight_shape", {2}, {2, 12});
  f.i32("sq.weight_zero_point", {1, 1}, {0x1Cu});  // fields 4, 3 along rows
  f.metadata["quantization_config"] = config_json(3, "channel", 0, false, "sq", "sparse-quantized");
  return f;
}

// Opens `spec` and decodes every tensor; the first failure must contain `expected` and
// name `tensor` (when one is given).
void expect_failure(const FileSpec& spec, const std::string& expected, const std::string& tensor) {
  rt::testing::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  spec.write(path);
  std::string message;
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
  if (!ckpt) {
    message = ckpt.error().message;
  } else {
    for (const rt::LogicalTensor& t : ckpt->tensors()) {
      kmr::Expected<std::vector<float>> values = ckpt->decode(t);
      if (!values) {
        message = values.error().message;
        break;
      }
    }
  }
  INFO("message: " << message);
  REQUIRE_FALSE(message.empty());
  CHECK(message.rfind(path + ": ", 0) == 0);
  CHECK(message.find(expected) != std::string::npos);
  if (!tensor.empty()) CHECK(message.find("'" + tensor) != std::string::npos);
}

}  // namespace

TEST_SUITE("compressed_malformed") {
  TEST_CASE("the well-formed base files decode") {
    for (const FileSpec& spec :
         {packed_file(true), packed_file(false), int8_file(), sparse_file(), sparse_quantized_file()}) {
      rt::testing::TempDir dir;
      spec.write(dir.file("ok.safetensors"));
      kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(dir.file("ok.safetensors"));
      REQUIRE_MESSAGE(ckpt.ok(), (ckpt.ok() ? "" : ckpt.error().message));
      REQUIRE(ckpt->tensors().size() == 1);
      kmr::Expected<std::vector<float>> values = ckpt->decode(ckpt->tensors()[0]);
      REQUIRE_MESSAGE(values.ok(), (values.ok() ? "" : values.error().message));
    }
    // The asymmetric file's zero points are 0, 1, 2 for both rows: element 0 is (-8 - 0) * 0.5.
    rt::testing::TempDir dir;
    packed_file(false).write(dir.file("a.safetensors"));
    kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(dir.file("a.safetensors"));
    REQUIRE(ckpt.ok());
    kmr::Expected<rt::QuantizedTensor> q = ckpt->read_quantized(ckpt->tensors()[0]);
    REQUIRE(q.ok());
    CHECK(q->zero_points == std::vector<std::int8_t>{0, 1, 2, 0, 1, 2});
    CHECK(rt::dequantize(*q)[0] == -4.0f);

    sparse_quantized_file().write(dir.file("s.safetensors"));
    ckpt = rt::CompressedCheckpoint::open(dir.file("s.safetensors"));
    REQUIRE(ckpt.ok());
    CHECK(ckpt->tensors()[0].encoding == rt::Encoding::SparseQuantized);
    q = ckpt->read_quantized(ckpt->tensors()[0]);
    REQUIRE(q.ok());
    CHECK(q->codes == std::vector<std::int8_t>{0, 0,  3,  0,  0,  0,  0,  0,  -4, 0,  0,  1,  //
                                               2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1});
    CHECK(rt::dequantize(*q) == std::vector<float>{0,     0, 1.5f, 0, 0, 0, 0, 0, -2, 0, 0, 0.5f,  //
                                                   0.75f, 0, 0,    0, 0, 0, 0, 0, 0,  0, 0, 0});
  }

  TEST_CASE("missing companions") {
    FileSpec f = packed_file();
    f.tensors.erase("fc.weight_scale");
    expect_failure(f, "tensor 'fc.weight_packed' needs companion 'fc.weight_scale', which is missing",
                   "fc.weight_packed");

    f = packed_file();
    f.tensors.erase("fc.weight_shape");
    expect_failure(f, "needs companion 'fc.weight_shape'", "fc.weight_packed");

    f = int8_file();
    f.tensors.erase("fc.weight_scale");
    expect_failure(f, "quantization_config quantizes module 'fc', but 'fc.weight' is I8 without 'fc.weight_scale'",
                   "fc.weight");

    f = packed_file(false);
    f.tensors.erase("fc.weight_zero_point");
    expect_failure(f, "needs companion 'fc.weight_zero_point'", "fc.weight_packed");

    f = sparse_file();
    f.tensors.erase("sp.bitmask");
    expect_failure(f, "needs companion 'sp.bitmask'", "sp.");

    f = sparse_file();
    f.tensors.erase("sp.row_offsets");
    expect_failure(f, "tensor 'sp.bitmask' needs companion 'sp.row_offsets'", "sp.bitmask");

    FileSpec lr;
    lr.f32("lr.weight_u", {2, 1}, {1, 2});
    expect_failure(lr, "tensor 'lr.weight_u' needs companion 'lr.weight_v'", "lr.weight_u");

    // A quantized factor (module lr.weight_u) without its quantized partner, alone or
    // next to an F32 one.
    FileSpec half;
    half.bytes("lr.weight_u.weight", rt::DType::I8, {2, 1}, {1, -1});
    half.f32("lr.weight_u.weight_scale", {2, 1}, {0.5f, 0.25f});
    half.metadata["quantization_config"] = config_json(8, "channel", 0, true, "lr.weight_u", "int-quantized");
    expect_failure(half,
                   "quantized low-rank factor 'lr.weight_u' needs its partner 'lr.weight_v' quantized beside it, "
                   "which is missing",
                   "lr.weight_u");
    half.f32("lr.weight_v", {1, 3}, {1, 2, 3});
    expect_failure(half, "tensor 'lr.weight_v' needs companion 'lr.weight_u'", "lr.weight_v");
  }

  TEST_CASE("companions without a group, and two encodings of one weight") {
    FileSpec f = packed_file();
    f.tensors.erase("fc.weight_packed");
    expect_failure(f, "has no 'fc.weight_packed' or I8 'fc.weight' to belong to", "fc.weight_scale");

    f = packed_file();
    f.tensors.erase("fc.weight_packed");
    f.tensors.erase("fc.weight_scale");
    expect_failure(f, "tensor 'fc.weight_shape' has no 'fc.weight_packed' to describe", "fc.weight_shape");

    f = packed_file();
    f.f32("fc.weight", {2, 20}, std::vector<float>(40, 1.0f));
    expect_failure(f, "module 'fc' stores its weight twice", "fc.weight");

    f = sparse_file();
    f.f32("sp.weight_u", {2, 1}, {1, 2});
    f.f32("sp.weight_v", {1, 9}, std::vector<float>(9, 1.0f));
    expect_failure(f, "module 'sp' stores its weight twice: sparse-bitmask and low-rank", "sp");
  }

  TEST_CASE("packed codes whose length or padding does not match the shape") {
    FileSpec f = packed_file();
    f.i32("fc.weight_packed", {2, 2}, {0, 0, 0, 0});
    expect_failure(f,
                   "tensor 'fc.weight_packed' (I32 [2, 2]) does not match its weight: 4-bit codes of shape [2, 20] "
                   "pack into I32 [2, 3]",
                   "fc.weight_packed");

    f = packed_file();
    f.i64("fc.weight_packed", {2, 3}, {0, 0, 0, 0, 0, 0});
    expect_failure(f, "pack into I32 [2, 3]", "fc.weight_packed");

    f = packed_file();
    f.i64("fc.weight_shape", {2}, {2, 30});
    expect_failure(f, "4-bit codes of shape [2, 30] pack into I32 [2, 4]", "fc.weight_packed");

    f = packed_file();
    f.tensors["fc.weight_packed"].bytes[2 * 4 + 3] = 0x10;  // row 0, word 2: a field past column 19
    expect_failure(f, "word 2 (row 0) sets bits outside its 4-bit fields", "fc.weight_packed");

    f = packed_file();
    f.i64("fc.weight_shape", {2}, {2, -20});
    expect_failure(f, "holds the shape [2, -20], which has a negative dimension", "fc.weight_shape");

    // Zero elements, but rows x cols would overflow: refused before any arithmetic on it.
    f = packed_file();
    f.i64("fc.weight_shape", {3}, {0, std::int64_t{1} << 40, std::int64_t{1} << 40});
    expect_failure(f, "which has a negative dimension or too many elements", "fc.weight_shape");

    f = int8_file();
    f.bytes("fc.weight", rt::DType::I8, {0, std::int64_t{1} << 40, std::int64_t{1} << 40}, {});
    expect_failure(f, "its dimensions after the first multiply to more than 2^63 - 1", "fc.weight");

    f = packed_file();
    f.f32("fc.weight_shape", {2}, {2, 20});
    expect_failure(f, "must hold integers", "fc.weight_shape");
  }

  TEST_CASE("codes and zero points out of range") {
    FileSpec f = int8_file(4);
    f.bytes("fc.weight", rt::DType::I8, {2, 3}, {1, 2, 9, -1, -2, -3});
    expect_failure(f, "tensor 'fc.weight': code 9 at element 2 is outside the 4-bit range [-8, 7]", "fc.weight");

    f = int8_file(4);
    f.metadata["quantization_config"] = config_json(4, "channel", 0, false, "fc", "int-quantized");
    f.bytes("fc.weight_zero_point", rt::DType::I8, {2, 1}, {0, 20});
    expect_failure(f, "zero point 20 at 1 is outside the 4-bit range [-8, 7]", "fc.weight_zero_point");

    f = int8_file();
    f.bytes("fc.weight_zero_point", rt::DType::I8, {2, 1}, {0, 3});
    expect_failure(f, "zero point 1 is 3 but quantization_config says the scheme is symmetric", "fc.weight_zero_point");

    f = packed_file(false);
    f.i32("fc.weight_zero_point", {1, 3}, {0x00000088u, 0x00000099u, 0x000010AAu});
    expect_failure(f, "word 2 sets bits outside its 4-bit fields", "fc.weight_zero_point");
  }

  TEST_CASE("scales that do not fit the scheme") {
    FileSpec f = packed_file();
    f.f32("fc.weight_scale", {2, 2}, {1, 1, 1, 1});
    expect_failure(f, "group quantization (group size 8) of shape [2, 20] needs 6 scales, shaped [2, 3]",
                   "fc.weight_scale");

    f = packed_file();
    f.i32("fc.weight_scale", {2, 3}, {1, 1, 1, 1, 1, 1});
    expect_failure(f, "must hold floating-point values", "fc.weight_scale");

    f = int8_file();
    f.metadata.erase("quantization_config");
    f.f32("fc.weight_scale", {1, 2}, {1, 1});
    expect_failure(f, "without a quantization_config only per-tensor and per-channel scales can be read",
                   "fc.weight_scale");
  }

  TEST_CASE("configs that cannot decode a group") {
    FileSpec f = packed_file();
    f.metadata.erase("quantization_config");
    expect_failure(f, "the metadata has no quantization_config, so the bit width of its codes is unknown",
                   "fc.weight_packed");

    f = packed_file();
    f.metadata["quantization_config"] = R"({"config_groups":{"a":{"targets":["x"],"weights":{"num_bits":4}},)"
                                        R"("b":{"targets":["y"],"weights":{"num_bits":4}}}})";
    expect_failure(f, "quantization_config has no config group for module 'fc'", "fc.weight_packed");

    f = packed_file();
    f.metadata["quantization_config"] = config_json(4, "block", 0, true, "fc", "pack-quantized");
    expect_failure(f, "strategy \"block\" is not supported", "fc.weight_packed");

    f = packed_file();
    f.metadata["quantization_config"] = R"({"config_groups":{"a":{"targets":["fc"],"weights":{"num_bits":"4"}}}})";
    expect_failure(f, "config_groups.a.weights.num_bits must be an integer", "");

    f = packed_file();
    f.metadata["quantization_config"] = "{not json";
    expect_failure(f, "quantization_config", "");

    f = packed_file();
    f.i32("fc.weight_g_idx", {20}, std::vector<std::uint32_t>(20, 0));
    expect_failure(f, "activation-ordered quantization (g_idx) is not supported", "fc.weight_g_idx");

    f = packed_file();
    f.metadata["kmr.dtypes"] = R"({"fc.weight":"I8"})";
    expect_failure(f, "gives tensor 'fc.weight' the dtype \"I8\"; original dtypes are F32, F16, BF16 or F64",
                   "fc.weight");
  }

  TEST_CASE("bitmask groups whose parts disagree") {
    FileSpec f = sparse_file();
    f.i64("sp.row_offsets", {2}, {0, 2});
    expect_failure(f, "row offset 1 is 2, but the bitmask's earlier rows set 3 bits", "sp.weight");

    f = sparse_file();
    f.bytes("sp.bitmask", rt::DType::U8, {2, 2}, {0x05, 0x03, 0x00, 0x00});
    expect_failure(f, "tensor 'sp.bitmask': row 0 sets padding bits past column 8", "sp.bitmask");

    f = sparse_file();
    f.f32("sp.compressed", {2}, {1, 2});
    expect_failure(f, "has 2 stored values but the bitmask sets 3 bits", "sp.weight");

    f = sparse_file();
    f.bytes("sp.bitmask", rt::DType::U8, {2, 1}, {0x05, 0x00});
    expect_failure(f, "tensor 'sp.bitmask' (U8 [2, 1]) does not match the dense shape [2, 9], which needs U8 [2, 2]",
                   "sp.bitmask");

    f = sparse_file();
    f.bytes("sp.compressed", rt::DType::I8, {3}, {1, 2, 3});
    expect_failure(f, "must be a vector of F32, F16, BF16 or F64 values", "sp.compressed");

    FileSpec lr;
    lr.f32("lr.weight_u", {2, 1}, {1, 2});
    lr.f32("lr.weight_v", {2, 3}, std::vector<float>(6, 1.0f));
    expect_failure(lr, "must be matrices [rows, rank] and [rank, cols]", "lr.weight_u");
  }
  TEST_CASE("sparse-quantized groups whose parts disagree") {
    FileSpec f = sparse_quantized_file();
    f.tensors.erase("sq.weight_shape");
    expect_failure(f, "tensor 'sq.weight_packed' needs companion 'sq.weight_shape', which is missing",
                   "sq.weight_packed");

    f = sparse_quantized_file();
    f.tensors.erase("sq.weight_zero_point");
    expect_failure(f, "tensor 'sq.weight_packed' needs companion 'sq.weight_zero_point'", "sq.weight_packed");

    f = sparse_quantized_file();
    f.metadata.erase("quantization_config");
    expect_failure(f, "the metadata has no quantization_config, so the bit width of its codes is unknown",
                   "sq.weight_packed");

    f = sparse_quantized_file();
    f.f32("sq.compressed", {4}, {1, 2, 3, 4});
    expect_failure(f,
                   "module 'sq' stores its weight twice: 'sq.bitmask' with 'sq.weight_packed' is sparse-quantized, "
                   "and 'sq.compressed' belongs to sparse-bitmask",
                   "sq.bitmask");

    f = sparse_quantized_file();
    f.bytes("sq.bitmask", rt::DType::U8, {2, 1}, {0x04, 0x01});
    expect_failure(f, "tensor 'sq.bitmask' (U8 [2, 1]) does not match the dense shape [2, 12], which needs U8 [2, 2]",
                   "sq.bitmask");

    f = sparse_quantized_file();
    f.bytes("sq.bitmask", rt::DType::I8, {2, 2}, {0x04, 0x09, 0x01, 0x00});
    expect_failure(f, "tensor 'sq.bitmask' (I8 [2, 2]) does not match the dense shape [2, 12]", "sq.bitmask");

    f = sparse_quantized_file();
    f.bytes("sq.bitmask", rt::DType::U8, {2, 2}, {0x04, 0x09, 0x01, 0x10});  // column 12 of row 1
    expect_failure(f, "tensor 'sq.bitmask': row 1 sets padding bits past column 11", "sq.bitmask");

    // One more set bit than codes still fits the one word; two more words do not.
    f = sparse_quantized_file();
    f.i32("sq.weight_packed", {2}, {0xD47u, 0});
    expect_failure(f,
                   "tensor 'sq.weight_packed' (I32 [2]) does not match its bitmask: 4 stored 3-bit codes pack into "
                   "I32 [1]",
                   "sq.weight_packed");

    f = sparse_quantized_file();
    f.i32("sq.weight_packed", {1, 1}, {0xD47u});
    expect_failure(f, "(I32 [1, 1]) does not match its bitmask", "sq.weight_packed");

    f = sparse_quantized_file();
    f.bytes("sq.bitmask", rt::DType::U8, {2, 2}, {0xff, 0x0f, 0xff, 0x0f});  // every element stored
    expect_failure(f, "24 stored 3-bit codes pack into I32 [3]", "sq.weight_packed");

    f = sparse_quantized_file();
    f.i32("sq.weight_packed", {1}, {0xD47u | (1u << 12)});  // a fifth field past the four stored codes
    expect_failure(f, "tensor 'sq.weight_packed': word 0 sets bits outside its 3-bit fields", "sq.weight_packed");

    f = sparse_quantized_file();
    f.i32("sq.weight_packed", {1}, {0xD47u | (1u << 31)});  // the word's unused top bits
    expect_failure(f, "tensor 'sq.weight_packed': word 0 sets bits outside its 3-bit fields", "sq.weight_packed");

    // Row 1's stored code is -1, its zero point: not what a writer produces.
    f = sparse_quantized_file();
    f.i32("sq.weight_packed", {1}, {0x747u});
    expect_failure(f,
                   "tensor 'sq.weight_packed': stored code 3 is -1, its element's zero point; sparse-quantized "
                   "stores only codes that differ from it",
                   "sq.weight_packed");

    f = sparse_quantized_file();
    f.i32("sq.weight_zero_point", {1, 1}, {0x1Cu | (1u << 30)});
    expect_failure(f, "word 0 sets bits outside its 3-bit fields", "sq.weight_zero_point");

    f = sparse_quantized_file();
    f.f32("sq.weight_scale", {2, 2}, {1, 1, 1, 1});
    expect_failure(f, "channel quantization of shape [2, 12] needs 2 scales", "sq.weight_scale");
  }

  TEST_CASE("randomly corrupted compressed files are rejected naming the file, or decode fully; never a crash") {
    rt::testing::TempDir dir;
    rt::testing::SampleModel sample = rt::testing::sample_model();
    const std::string good_path = dir.file("good.safetensors");
    REQUIRE(rt::write_compressed(good_path, sample.model, sample.provenance).ok());
    const std::string good = rt::testing::read_file(good_path);
    kmr::Expected<rt::SafetensorsFile> layout = rt::SafetensorsFile::open(good_path);
    REQUIRE(layout.ok());
    const std::size_t data_start = static_cast<std::size_t>(layout->data_start());
    // The integer companions (shapes, offsets, packed words), whose values steer the decoder.
    std::vector<rt::TensorInfo> integers;
    for (const rt::TensorInfo& t : layout->tensors()) {
      if (t.dtype == rt::DType::I64 || t.dtype == rt::DType::I32) integers.push_back(t);
    }
    const std::int64_t interesting[] = {
        -1, 0, 1, 7, 1 << 20, std::int64_t{1} << 31, std::int64_t{1} << 62, INT64_MAX, INT64_MIN};
    rt::Rng rng(99);
    int decoded = 0, rejected = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      std::string bytes = good;
      const std::uint64_t kind = rng.below(3);
      if (kind == 0) {  // random bytes anywhere in the data section
        for (int e = 0; e < 1 + static_cast<int>(rng.below(4)); ++e) {
          bytes[data_start + rng.below(bytes.size() - data_start)] = static_cast<char>(rng.below(256));
        }
      } else if (kind == 1) {  // one element of an integer companion set to an edge value
        const rt::TensorInfo& t = integers[rng.below(integers.size())];
        const std::size_t width = t.dtype == rt::DType::I64 ? 8 : 4;
        const std::size_t count = (t.end - t.begin) / width;
        if (count == 0) continue;
        const std::size_t at = data_start + t.begin + width * rng.below(count);
        const std::int64_t v = interesting[rng.below(std::size(interesting))];
        for (std::size_t b = 0; b < width; ++b)
          bytes[at + b] = static_cast<char>(static_cast<std::uint64_t>(v) >> (8 * b));
      } else {  // a byte of the header (the metadata's JSON, names, shapes) replaced
        bytes[8 + rng.below(data_start - 8)] = "{}[]\":,0123456789 -e.abcFIU_"[rng.below(29)];
      }
      const std::string path = dir.file("fuzz.safetensors");
      rt::testing::write_file(path, bytes);
      kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
      if (!ckpt) {
        REQUIRE(ckpt.error().message.rfind(path + ":", 0) == 0);
        ++rejected;
        continue;
      }
      kmr::Expected<rt::CheckpointSummary> summary = rt::summarize_checkpoint(*ckpt);
      if (!summary) {
        REQUIRE(summary.error().message.rfind(path + ":", 0) == 0);
        ++rejected;
        continue;
      }
      ++decoded;
      // Whatever decodes for inspect decodes for decode too, and the output reads back
      // (checked on a sample: each save is fsynced).
      if (decoded % 10 != 0) continue;
      const std::string out = dir.file("out.safetensors");
      kmr::Status written = rt::decompress_checkpoint(*ckpt, out);
      REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
      REQUIRE(rt::SafetensorsFile::open(out).ok());
    }
    // Both outcomes occur: data corruption often still decodes (a different code is a valid code).
    CHECK(decoded > 100);
    CHECK(rejected > 100);
  }
}
