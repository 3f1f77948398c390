// What inspect reports (compressed groups as one tensor, NaN/Inf counts, sizes) and what
// decode writes (dense tensors in their original dtypes), on single and sharded files.
#include "runtime/checkpoint_summary.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "compressed_samples.h"
#include "runtime/checkpoint_decompression.h"
#include "runtime/float_codec.h"
#include "runtime/safetensors_reader.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

rt::CompressedCheckpoint open_compressed(const std::string& path) {
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
  REQUIRE_MESSAGE(ckpt.ok(), (ckpt.ok() ? "" : ckpt.error().message));
  return std::move(*ckpt);
}

const rt::TensorSummary& row(const rt::CheckpointSummary& s, const std::string& name) {
  for (const rt::TensorSummary& t : s.tensors) {
    if (t.name == name) return t;
  }
  FAIL("no row " << name);
  return s.tensors.front();
}

std::string write_sample(const rt::testing::TempDir& dir, rt::testing::SampleModel& sample) {
  const std::string path = dir.file("model.safetensors");
  kmr::Status written = rt::write_compressed(path, sample.model, sample.provenance);
  REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
  return path;
}

}  // namespace

TEST_SUITE("checkpoint_summary") {
  TEST_CASE("compressed groups are one row each, with their encoding, parts, size and value counts") {
    rt::testing::TempDir dir;
    rt::testing::SampleModel sample = rt::testing::sample_model();
    const std::string path = write_sample(dir, sample);
    kmr::Expected<rt::CheckpointSummary> s = rt::summarize_checkpoint(open_compressed(path));
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    CHECK(s->tensors.size() == 11);

    const rt::TensorSummary& q4 = row(*s, "q4.weight");
    CHECK(q4.encoding == rt::Encoding::PackQuantized);
    CHECK(q4.scheme == "int4 group 32 asym");
    CHECK(q4.shape == std::vector<std::int64_t>{5, 70});
    CHECK(q4.numel == 350);
    CHECK(q4.bytes == rt::encoded_bytes(sample.model.quantized[1]));
    REQUIRE(q4.parts.size() == 4);
    CHECK(q4.parts[0].name == "q4.weight_packed");
    CHECK(q4.bits_per_weight() == doctest::Approx(q4.bytes * 8.0 / 350));
    CHECK(q4.nans == 0);

    CHECK(row(*s, "q8.weight").encoding == rt::Encoding::IntQuantized);
    CHECK(row(*s, "q8.weight").scheme == "int8 channel sym");
    CHECK(row(*s, "q2.weight").scheme == "int2 tensor asym");
    CHECK(row(*s, "qb.weight").dtype == rt::DType::BF16);
    CHECK(row(*s, "lr.weight").scheme == "rank 2");
    CHECK(row(*s, "lr.weight").shape == std::vector<std::int64_t>{7, 9});
    const rt::TensorSummary& lq = row(*s, "lq.weight");
    CHECK(lq.scheme.rfind("rank 3, factors int4 group 4 sym", 0) == 0);
    CHECK(lq.bytes == rt::encoded_bytes(sample.model.low_rank[1]));
    CHECK(lq.parts.size() >= 6);  // each factor's codes, scales and shape

    const rt::TensorSummary& sp = row(*s, "sp.weight");
    CHECK(sp.encoding == rt::Encoding::SparseBitmask);
    CHECK(sp.zeros == 95 - static_cast<std::int64_t>(sample.model.sparse[0].values.size()));

    // NaN and infinite weights load and are counted, not refused.
    const rt::TensorSummary& weird = row(*s, "nan.weight");
    CHECK(weird.encoding == rt::Encoding::Dense);
    CHECK(weird.nans == 1);
    CHECK(weird.infs == 2);
    CHECK(weird.zeros == 1);
    CHECK(s->nans == 1);
    CHECK(s->infs == 2);

    std::uint64_t bytes = 0;
    for (const rt::TensorSummary& t : s->tensors) bytes += t.bytes;
    CHECK(s->bytes == bytes);
    CHECK(s->bytes == rt::encoded_bytes(sample.model));
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
    REQUIRE(file.ok());
    CHECK(s->bytes == file->file_size() - file->data_start());
  }

  TEST_CASE("integer, bool and half-precision dense tensors get zero counts; NaN counted in F16") {
    rt::testing::TempDir dir;
    const std::int32_t ints[] = {0, 5, 0, -1};
    const std::uint8_t flags[] = {1, 0, 0};
    const std::uint16_t halves[] = {0x7E00, 0x3C00, 0x0000, 0xFC00};  // NaN, 1, 0, -inf
    const std::vector<rt::TensorToWrite> tensors = {
        {"i", rt::DType::I32, {4}, {reinterpret_cast<const std::uint8_t*>(ints), sizeof ints}},
        {"b", rt::DType::BOOL, {3}, {flags, sizeof flags}},
        {"h", rt::DType::F16, {2, 2}, {reinterpret_cast<const std::uint8_t*>(halves), sizeof halves}}};
    REQUIRE(rt::write_safetensors(dir.file("d.safetensors"), tensors, {}).ok());
    kmr::Expected<rt::CheckpointSummary> s = rt::summarize_checkpoint(open_compressed(dir.file("d.safetensors")));
    REQUIRE(s.ok());
    CHECK(row(*s, "i").zeros == 2);
    CHECK_FALSE(row(*s, "i").nans.has_value());
    CHECK(row(*s, "b").zeros == 2);
    CHECK(row(*s, "h").zeros == 1);
    CHECK(row(*s, "h").nans == 1);
    CHECK(row(*s, "h").infs == 1);
    CHECK(row(*s, "h").bits_per_weight() == 16.0);
  }

  TEST_CASE("decode writes every tensor dense in its original dtype, bit-identical to the dequantised values") {
    rt::testing::TempDir dir;
    rt::testing::SampleModel sample = rt::testing::sample_model();
    const std::string path = write_sample(dir, sample);
    const std::string out = dir.file("dense.safetensors");
    kmr::Status decoded = rt::decompress_checkpoint(open_compressed(path), out);
    REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));

    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(out);
    REQUIRE(file.ok());
    CHECK(file->tensors().size() == 11);
    CHECK(file->metadata().count("quantization_config") == 0);
    CHECK(file->metadata().count("kmr.dtypes") == 0);
    CHECK(file->metadata().at("kmr.script_hash") == "sha256:0123abcd");
    for (const rt::QuantizedTensor& q : sample.model.quantized) {
      INFO(q.name);
      const rt::TensorInfo* t = file->find(q.name);
      REQUIRE(t != nullptr);
      CHECK(t->dtype == q.dtype);
      CHECK(t->shape == q.shape);
      const std::vector<float> values = rt::dequantize(q);
      kmr::Expected<rt::ByteView> raw = file->bytes(*t);
      REQUIRE(raw.ok());
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (q.dtype == rt::DType::BF16) {
          std::uint16_t stored;
          std::memcpy(&stored, raw->data + 2 * i, 2);
          CHECK(stored == rt::f32_to_bf16(values[i]));
        } else {
          CHECK(std::memcmp(raw->data + 4 * i, &values[i], 4) == 0);
        }
      }
    }
    // Dense tensors are copied byte for byte, NaN payloads included.
    kmr::Expected<rt::ByteView> weird = file->bytes(*file->find("nan.weight"));
    REQUIRE(weird.ok());
    CHECK(std::memcmp(weird->data, sample.dense_values[1].data(), 48) == 0);
    const rt::TensorInfo* scalar = file->find("scalar");
    REQUIRE(scalar != nullptr);
    CHECK(scalar->shape.empty());
  }

  TEST_CASE("a compressed group split across the shards of an index reads and decodes as one tensor") {
    rt::testing::TempDir dir;
    rt::CompressedModel model;
    model.quantized.push_back(
        rt::testing::random_quantized("layer.weight", {4, 50}, 4, rt::QuantStrategy::Group, 16, false, 3));
    kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(model, {}, "sharded");
    REQUIRE(encoded.ok());
    // Shard 1: the packed codes; shard 2: everything else.
    std::vector<rt::TensorToWrite> first, second;
    for (const rt::TensorToWrite& t : encoded->tensors.tensors()) {
      (t.name == "layer.weight_packed" ? first : second).push_back(t);
    }
    REQUIRE(rt::write_safetensors(dir.file("a.safetensors"), first, encoded->metadata).ok());
    REQUIRE(rt::write_safetensors(dir.file("b.safetensors"), second, encoded->metadata).ok());
    std::string index = R"({"metadata":{"total_size":1},"weight_map":{"layer.weight_packed":"a.safetensors")";
    for (const rt::TensorToWrite& t : second) index += ",\"" + t.name + "\":\"b.safetensors\"";
    rt::testing::write_file(dir.file("model.safetensors.index.json"), index + "}}");

    rt::CompressedCheckpoint ckpt = open_compressed(dir.file("model.safetensors.index.json"));
    REQUIRE(ckpt.tensors().size() == 1);
    CHECK(ckpt.tensors()[0].encoding == rt::Encoding::PackQuantized);
    kmr::Expected<std::vector<float>> values = ckpt.decode(ckpt.tensors()[0]);
    REQUIRE(values.ok());
    CHECK(*values == rt::dequantize(model.quantized[0]));
    REQUIRE(rt::decompress_checkpoint(ckpt, dir.file("dense.safetensors")).ok());
    kmr::Expected<rt::SafetensorsFile> dense = rt::SafetensorsFile::open(dir.file("dense.safetensors"));
    REQUIRE(dense.ok());
    CHECK(dense->metadata().count("total_size") == 0);
    kmr::Expected<std::vector<float>> back = dense->to_f32(*dense->find("layer.weight"));
    REQUIRE(back.ok());
    CHECK(*back == *values);
  }

  TEST_CASE("a decode that fails leaves no output file behind") {
    rt::testing::TempDir dir;
    rt::CompressedModel model;
    model.quantized.push_back(
        rt::testing::random_quantized("fc.weight", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(model, {}, "x");
    REQUIRE(encoded.ok());
    // A config claiming 5-bit codes: the 4-bit words no longer match the weight's shape.
    encoded->metadata["quantization_config"] =
        R"({"config_groups":{"g":{"targets":["fc"],"weights":{"num_bits":5,"strategy":"channel"}}}})";
    REQUIRE(rt::write_safetensors(dir.file("bad.safetensors"), encoded->tensors.tensors(), encoded->metadata).ok());
    kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(dir.file("bad.safetensors"));
    REQUIRE(ckpt.ok());
    kmr::Status decoded = rt::decompress_checkpoint(*ckpt, dir.file("out.safetensors"));
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().message.find("fc.weight_packed") != std::string::npos);
    CHECK(dir.entries() == std::vector<std::string>{"bad.safetensors"});
  }
}
