// Compressed tensors written, read back and decoded: every bit width, scale grid and
// symmetry, bitmask sparsity at several densities, low rank, and whole models.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "compressed_samples.h"
#include "runtime/compressed_layout.h"
#include "runtime/compressed_writer.h"
#include "runtime/float_codec.h"
#include "runtime/safetensors_reader.h"
#include "test_support.h"

namespace rt = kmr::runtime;
using rt::testing::random_quantized;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Bitwise float equality, so that NaN == NaN and -0 != +0.
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (bits_of(a[i]) != bits_of(b[i])) return false;
  }
  return true;
}

// The zero point of element (r, c), from the scale grid of docs/format.md §3, written out
// independently of ScaleUnits.
int zero_point_at(const rt::QuantizedTensor& q, std::int64_t r, std::int64_t c, std::int64_t* unit = nullptr) {
  const std::int64_t u = q.strategy == rt::QuantStrategy::Tensor    ? 0
                         : q.strategy == rt::QuantStrategy::Channel ? r
                                                                    : r * rt::groups_per_row(q) + c / q.group_size;
  if (unit != nullptr) *unit = u;
  return q.symmetric ? 0 : q.zero_points[u];
}

// The documented decoding formula, written out independently of dequantize().
std::vector<float> expected_values(const rt::QuantizedTensor& q) {
  const rt::MatrixDims dims = rt::matrix_dims(q.shape);
  std::vector<float> out;
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) {
      std::int64_t u = 0;
      const int zero = zero_point_at(q, r, c, &u);
      out.push_back(static_cast<float>(q.codes[r * dims.cols + c] - zero) * q.scales[u]);
    }
  }
  return out;
}

std::int64_t nonzeros_of(const std::vector<float>& values) {
  std::int64_t n = 0;
  for (float v : values) n += v != 0.0f;
  return n;
}

// The two forms' sizes by the table of docs/format.md §9, and the form the writer must pick.
struct FormSizes {
  std::uint64_t full = 0;  // every code: int-quantized (8 bits) or pack-quantized
  rt::Encoding full_encoding = rt::Encoding::PackQuantized;
  std::uint64_t sparse = 0;  // sparse-quantized
  std::int64_t stored = 0;   // codes unequal to their zero point
  rt::Encoding chosen() const { return sparse < full ? rt::Encoding::SparseQuantized : full_encoding; }
};

FormSizes form_sizes(const rt::QuantizedTensor& q) {
  const rt::MatrixDims dims = rt::matrix_dims(q.shape);
  const std::uint64_t k = 32 / static_cast<std::uint64_t>(q.bits);
  const auto words = [&](std::int64_t n) { return (static_cast<std::uint64_t>(n) + k - 1) / k; };
  const std::uint64_t units = q.scales.size(), rows = static_cast<std::uint64_t>(dims.rows);
  const std::uint64_t rank = q.shape.size();
  const std::uint64_t groups = static_cast<std::uint64_t>(rt::groups_per_row(q));
  const std::uint64_t packed_zeros = q.symmetric                               ? 0
                                     : q.strategy == rt::QuantStrategy::Tensor ? 1
                                                                               : 4 * words(dims.rows) * groups;
  FormSizes f;
  for (std::int64_t r = 0; r < dims.rows; ++r) {
    for (std::int64_t c = 0; c < dims.cols; ++c) f.stored += q.codes[r * dims.cols + c] != zero_point_at(q, r, c);
  }
  if (q.bits == 8) {
    f.full = q.codes.size() + 4 * units + (q.symmetric ? 0 : units);
    f.full_encoding = rt::Encoding::IntQuantized;
  } else {
    f.full = 4 * rows * words(dims.cols) + 4 * units + 8 * rank + packed_zeros;
  }
  f.sparse = rows * ((static_cast<std::uint64_t>(dims.cols) + 7) / 8) + 4 * words(f.stored) + 4 * units + 8 * rank +
             packed_zeros;
  return f;
}

std::uint64_t data_bytes_of(const std::string& path) {
  kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(path);
  REQUIRE_MESSAGE(file.ok(), (file.ok() ? "" : file.error().message));
  return file->file_size() - file->data_start();
}

rt::CompressedCheckpoint open_compressed(const std::string& path) {
  kmr::Expected<rt::CompressedCheckpoint> ckpt = rt::CompressedCheckpoint::open(path);
  REQUIRE_MESSAGE(ckpt.ok(), (ckpt.ok() ? "" : ckpt.error().message));
  return std::move(*ckpt);
}

void write_model(const std::string& path, const rt::CompressedModel& model) {
  kmr::Status written = rt::write_compressed(path, model, {});
  REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
}

// Writes a model of one compressed tensor to `path`, checks that its data section holds
// `bytes` (the tensor's encoded_bytes) and that it reads back as one tensor.
rt::CompressedCheckpoint write_and_reopen_one(const std::string& path, const rt::CompressedModel& model,
                                              std::uint64_t bytes) {
  write_model(path, model);
  CHECK(data_bytes_of(path) == bytes);
  rt::CompressedCheckpoint ckpt = open_compressed(path);
  REQUIRE(ckpt.tensors().size() == 1);
  return ckpt;
}

// Writes the tensors to one file, reads each back and checks every field, the decoded bits
// and the size, and that the smaller form was written. Returns the forms, in order.
std::vector<rt::Encoding> check_quantized_round_trips(const std::vector<rt::QuantizedTensor>& tensors) {
  rt::testing::TempDir dir;
  const std::string path = dir.file("q.safetensors");
  rt::CompressedModel model;
  model.quantized = tensors;
  write_model(path, model);
  std::uint64_t total = 0;
  for (const rt::QuantizedTensor& q : tensors) total += rt::encoded_bytes(q);
  CHECK(data_bytes_of(path) == total);
  CHECK(rt::encoded_bytes(model) == total);

  rt::CompressedCheckpoint ckpt = open_compressed(path);
  REQUIRE(ckpt.tensors().size() == tensors.size());
  std::vector<rt::Encoding> forms;
  for (const rt::QuantizedTensor& q : tensors) {
    INFO(q.name);
    const FormSizes sizes = form_sizes(q);
    CHECK(rt::stored_code_count(q) == sizes.stored);
    CHECK(rt::stored_encoding(q) == sizes.chosen());
    CHECK(rt::encoded_bytes(q) == std::min(sizes.full, sizes.sparse));

    const rt::LogicalTensor* t = ckpt.find(q.name);
    REQUIRE(t != nullptr);
    CHECK(t->encoding == sizes.chosen());
    CHECK(t->shape == q.shape);
    CHECK(t->dtype == q.dtype);
    CHECK(t->stored_bytes() == rt::encoded_bytes(q));
    kmr::Expected<rt::QuantizedTensor> back = ckpt.read_quantized(*t);
    REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
    CHECK(back->bits == q.bits);
    CHECK(back->strategy == q.strategy);
    CHECK(back->symmetric == q.symmetric);
    if (q.strategy == rt::QuantStrategy::Group) CHECK(back->group_size == q.group_size);
    CHECK(back->codes == q.codes);
    CHECK(same_bits(back->scales, q.scales));
    CHECK(back->zero_points == q.zero_points);

    const std::vector<float> expected = expected_values(q);
    CHECK(same_bits(rt::dequantize(q), expected));
    CHECK(rt::nonzero_count(q) == nonzeros_of(expected));
    kmr::Expected<std::vector<float>> decoded = ckpt.decode(*t);
    REQUIRE(decoded.ok());
    CHECK(same_bits(*decoded, expected));
    forms.push_back(t->encoding);
  }
  return forms;
}

rt::Encoding check_quantized_round_trip(const rt::QuantizedTensor& q) { return check_quantized_round_trips({q})[0]; }

}  // namespace

TEST_SUITE("compressed_roundtrip") {
  TEST_CASE("every bit width 2..8, symmetric and asymmetric, per tensor, row and group (partial last group)") {
    struct Grid {
      rt::QuantStrategy strategy;
      std::int64_t group, cols;
    };
    const Grid grids[] = {{rt::QuantStrategy::Tensor, 0, 33},   {rt::QuantStrategy::Channel, 0, 37},
                          {rt::QuantStrategy::Group, 32, 100},  {rt::QuantStrategy::Group, 64, 150},
                          {rt::QuantStrategy::Group, 128, 300}, {rt::QuantStrategy::Group, 128, 256}};
    std::uint64_t seed = 100;
    for (int bits = 2; bits <= 8; ++bits) {
      for (bool symmetric : {true, false}) {
        for (const Grid& g : grids) {
          INFO("bits " << bits << (symmetric ? " sym " : " asym ") << rt::strategy_name(g.strategy) << " group "
                       << g.group << " cols " << g.cols);
          check_quantized_round_trip(
              random_quantized("layer.weight", {3, g.cols}, bits, g.strategy, g.group, symmetric, seed++));
        }
      }
    }
  }

  TEST_CASE("nonzero_count counts what dequantize would make non-zero, whatever the scales") {
    // Zero scales (an all-zero row), and non-finite ones, which turn even zero-point codes
    // into NaN (0 x inf): counted without decoding, as a decode would count them.
    for (bool symmetric : {true, false}) {
      for (rt::QuantStrategy strategy : {rt::QuantStrategy::Channel, rt::QuantStrategy::Group}) {
        rt::QuantizedTensor q = random_quantized("layer.weight", {6, 20}, 4, strategy, 8, symmetric, 7);
        q.scales[0] = 0.0f;
        q.scales[1] = std::numeric_limits<float>::infinity();
        q.scales[2] = std::numeric_limits<float>::quiet_NaN();
        q.scales[3] = 1e-45f;  // the least subnormal: any code but the zero point stays non-zero
        CHECK(rt::nonzero_count(q) == nonzeros_of(expected_values(q)));
      }
    }
  }

  TEST_CASE("encode with CodeStorage::View stores the same bytes, the 8-bit codes viewed in place") {
    const rt::QuantizedTensor q = random_quantized("layer.weight", {4, 40}, 8, rt::QuantStrategy::Channel, 0, false, 9);
    REQUIRE(rt::stored_encoding(q) == rt::Encoding::IntQuantized);
    kmr::Expected<rt::EncodedTensors> copied = rt::encode(q), viewed = rt::encode(q, rt::CodeStorage::View);
    REQUIRE(copied.ok());
    REQUIRE(viewed.ok());
    REQUIRE(copied->tensors().size() == viewed->tensors().size());
    for (std::size_t i = 0; i < copied->tensors().size(); ++i) {
      const rt::TensorToWrite &a = copied->tensors()[i], &b = viewed->tensors()[i];
      CAPTURE(a.name);
      CHECK(a.name == b.name);
      CHECK(a.dtype == b.dtype);
      CHECK(a.shape == b.shape);
      REQUIRE(a.data.size == b.data.size);
      CHECK(std::memcmp(a.data.data, b.data.data, a.data.size) == 0);
      if (a.name == "layer.weight") CHECK(static_cast<const void*>(b.data.data) == q.codes.data());
    }
  }

  TEST_CASE("quantized N-d, 1-d, scalar and empty tensors, and non-F32 originals") {
    check_quantized_round_trip(random_quantized("conv.weight", {4, 3, 10}, 4, rt::QuantStrategy::Group, 8, false, 1));
    check_quantized_round_trip(random_quantized("norm.weight", {5}, 6, rt::QuantStrategy::Channel, 0, true, 2));
    check_quantized_round_trip(random_quantized("s.weight", {}, 3, rt::QuantStrategy::Tensor, 0, false, 3));
    check_quantized_round_trip(random_quantized("e.weight", {0, 16}, 4, rt::QuantStrategy::Channel, 0, false, 4));
    check_quantized_round_trip(random_quantized("f.weight", {3, 0}, 8, rt::QuantStrategy::Group, 32, true, 5));
    check_quantized_round_trip(random_quantized("g.weight", {0, 0}, 2, rt::QuantStrategy::Tensor, 0, true, 6));
    rt::QuantizedTensor bf16 = random_quantized("h.weight", {2, 9}, 7, rt::QuantStrategy::Group, 4, true, 7);
    bf16.dtype = rt::DType::BF16;
    check_quantized_round_trip(bf16);
  }

  TEST_CASE("the stored tensors are named and shaped as compressed-tensors names them") {
    rt::testing::TempDir dir;
    rt::CompressedModel model;
    model.quantized.push_back(random_quantized("a.weight", {5, 70}, 4, rt::QuantStrategy::Group, 32, false, 1));
    model.quantized.push_back(random_quantized("b.weight", {6, 10}, 8, rt::QuantStrategy::Channel, 0, false, 2));
    // Long enough rows that packing every code beats the sparse form of these random codes.
    model.quantized.push_back(random_quantized("c.weight", {3, 30}, 2, rt::QuantStrategy::Tensor, 0, false, 3));
    write_model(dir.file("m.safetensors"), model);
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(dir.file("m.safetensors"));
    REQUIRE(file.ok());
    auto check = [&](const char* name, rt::DType dtype, std::vector<std::int64_t> shape) {
      INFO(name);
      const rt::TensorInfo* t = file->find(name);
      REQUIRE(t != nullptr);
      CHECK(t->dtype == dtype);
      CHECK(t->shape == shape);
    };
    // 70 4-bit codes: 9 words a row; 3 groups a row (32, 32, 6); zero points of 5 rows in one word.
    check("a.weight_packed", rt::DType::I32, {5, 9});
    check("a.weight_scale", rt::DType::F32, {5, 3});
    check("a.weight_zero_point", rt::DType::I32, {1, 3});
    check("a.weight_shape", rt::DType::I64, {2});
    check("b.weight", rt::DType::I8, {6, 10});
    check("b.weight_scale", rt::DType::F32, {6, 1});
    check("b.weight_zero_point", rt::DType::I8, {6, 1});
    check("c.weight_packed", rt::DType::I32, {3, 2});
    check("c.weight_scale", rt::DType::F32, {1});
    check("c.weight_zero_point", rt::DType::I8, {1});
    CHECK(file->tensors().size() == 11);
    // weight_shape holds the dense shape as little-endian int64.
    kmr::Expected<rt::ByteView> shape = file->bytes(*file->find("a.weight_shape"));
    REQUIRE(shape.ok());
    std::int64_t dims[2];
    std::memcpy(dims, shape->data, sizeof dims);
    CHECK(dims[0] == 5);
    CHECK(dims[1] == 70);
  }

  TEST_CASE("bitmask sparsity at densities 0 to 1, with all-zero and all-dense rows, round-trips exactly") {
    std::uint64_t seed = 1;
    for (double density : {0.0, 0.1, 0.5, 0.9, 1.0}) {
      for (const std::vector<std::int64_t>& shape :
           std::vector<std::vector<std::int64_t>>{{6, 21}, {4, 8}, {2, 3, 5}}) {
        INFO("density " << density << " shape " << rt::shape_string(shape));
        const std::vector<float> dense = rt::testing::random_sparse_values(shape, density, seed++);
        const rt::SparseTensor s = rt::sparse_from_dense("sp.weight", shape, rt::DType::F32, dense.data());
        REQUIRE(rt::validate(s).ok());
        CHECK(same_bits(rt::dequantize(s), dense));

        rt::testing::TempDir dir;
        rt::CompressedModel model;
        model.sparse.push_back(s);
        rt::CompressedCheckpoint ckpt = write_and_reopen_one(dir.file("s.safetensors"), model, rt::encoded_bytes(s));
        CHECK(ckpt.tensors()[0].encoding == rt::Encoding::SparseBitmask);
        CHECK(ckpt.tensors()[0].shape == shape);
        kmr::Expected<rt::SparseTensor> back = ckpt.read_sparse(ckpt.tensors()[0]);
        REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
        CHECK(back->bitmask == s.bitmask);
        CHECK(back->row_offsets == s.row_offsets);
        CHECK(same_bits(back->values, s.values));
        kmr::Expected<std::vector<float>> decoded = ckpt.decode(ckpt.tensors()[0]);
        REQUIRE(decoded.ok());
        CHECK(same_bits(*decoded, dense));
      }
    }
  }

  TEST_CASE("bitmask bits are LSB first per row; all-zero rows, empty tensors, -0 and BF16 values") {
    // Row 0: non-zeros at columns 1 and 8; row 1 all zero; row 2 all non-zero.
    const std::vector<float> dense = {0, 5, 0, 0, 0, 0, 0, 0, -3,  //
                                      0, 0, 0, 0, 0, 0, 0, 0, 0,   //
                                      1, 2, 3, 4, 5, 6, 7, 8, 9};
    const rt::SparseTensor s = rt::sparse_from_dense("m.weight", {3, 9}, rt::DType::F32, dense.data());
    CHECK(s.bitmask == std::vector<std::uint8_t>{0x02, 0x01, 0x00, 0x00, 0xFF, 0x01});
    CHECK(s.row_offsets == std::vector<std::int64_t>{0, 2, 2});
    CHECK(s.values == std::vector<float>{5, -3, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(rt::encoded_bytes(s) == 6 + 11 * 4 + 3 * 8 + 2 * 8);

    for (const std::vector<std::int64_t>& shape : std::vector<std::vector<std::int64_t>>{{0, 8}, {4, 0}, {0}}) {
      const rt::SparseTensor e = rt::sparse_from_dense("e.weight", shape, rt::DType::F32, nullptr);
      REQUIRE(rt::validate(e).ok());
      rt::testing::TempDir dir;
      rt::CompressedModel model;
      model.sparse.push_back(e);
      write_model(dir.file("e.safetensors"), model);
      rt::CompressedCheckpoint ckpt = open_compressed(dir.file("e.safetensors"));
      kmr::Expected<std::vector<float>> decoded = ckpt.decode(ckpt.tensors().at(0));
      REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));
      CHECK(decoded->empty());
    }

    const float negative_zero = -0.0f;
    const rt::SparseTensor z = rt::sparse_from_dense("z.weight", {1}, rt::DType::F32, &negative_zero);
    CHECK(z.values.empty());
    CHECK(bits_of(rt::dequantize(z)[0]) == 0u);

    // BF16 values are rounded once, when compressed; the file then holds exactly them.
    const std::vector<float> fine = {1.0f + 1.0f / 1024, 0, 3.0f};
    const rt::SparseTensor b = rt::sparse_from_dense("b.weight", {1, 3}, rt::DType::BF16, fine.data());
    CHECK(b.values == std::vector<float>{1.0f, 3.0f});
    rt::testing::TempDir dir;
    rt::CompressedModel model;
    model.sparse.push_back(b);
    write_model(dir.file("b.safetensors"), model);
    rt::CompressedCheckpoint ckpt = open_compressed(dir.file("b.safetensors"));
    CHECK(ckpt.tensors().at(0).dtype == rt::DType::BF16);
    CHECK(ckpt.tensors().at(0).part("compressed")->dtype == rt::DType::BF16);
    kmr::Expected<std::vector<float>> decoded = ckpt.decode(ckpt.tensors().at(0));
    REQUIRE(decoded.ok());
    CHECK(*decoded == std::vector<float>{1.0f, 0.0f, 3.0f});
  }

  TEST_CASE("low-rank factors round-trip and multiply out in the documented order") {
    for (std::int64_t rank : {0, 1, 3}) {
      INFO("rank " << rank);
      const rt::LowRankTensor l = rt::testing::random_low_rank("lr.weight", 5, 7, rank, 40 + rank);
      std::vector<float> expected(35);
      for (std::int64_t i = 0; i < 5; ++i) {
        for (std::int64_t j = 0; j < 7; ++j) {
          float acc = 0.0f;
          for (std::int64_t k = 0; k < rank; ++k) {
            const float product = l.u[i * rank + k] * l.v[k * 7 + j];
            acc = acc + product;
          }
          expected[i * 7 + j] = acc;
        }
      }
      CHECK(same_bits(rt::dequantize(l), expected));
      rt::testing::TempDir dir;
      rt::CompressedModel model;
      model.low_rank.push_back(l);
      CHECK(rt::encoded_bytes(l) == static_cast<std::uint64_t>(4 * rank * (5 + 7)));
      rt::CompressedCheckpoint ckpt = write_and_reopen_one(dir.file("l.safetensors"), model, rt::encoded_bytes(l));
      CHECK(ckpt.tensors()[0].encoding == rt::Encoding::LowRank);
      CHECK(ckpt.tensors()[0].shape == std::vector<std::int64_t>{5, 7});
      kmr::Expected<std::vector<float>> decoded = ckpt.decode(ckpt.tensors()[0]);
      REQUIRE(decoded.ok());
      CHECK(same_bits(*decoded, expected));
    }
  }

  TEST_CASE("quantized low-rank factors round-trip as two quantized modules and multiply out as stored") {
    struct Case {
      int bits;
      rt::QuantStrategy strategy;
      std::int64_t group;
      double pruned;
    };
    for (const Case c : {Case{8, rt::QuantStrategy::Channel, 0, 0.0}, Case{4, rt::QuantStrategy::Group, 4, 0.0},
                         Case{3, rt::QuantStrategy::Channel, 0, 0.9}}) {
      INFO("bits " << c.bits << ", pruned " << c.pruned);
      const rt::LowRankTensor l =
          rt::testing::random_quantized_low_rank("lr.weight", 6, 9, 3, c.bits, c.strategy, c.group, c.pruned, 11);
      REQUIRE(rt::validate(l).ok());
      CHECK(rt::encoded_bytes(l) == rt::encoded_bytes(*l.u_quantized) + rt::encoded_bytes(*l.v_quantized));
      // The floats the meters use must be the stored codes' values.
      rt::LowRankTensor drifted = l;
      drifted.v[0] += 1.0f;
      CHECK(rt::validate(drifted).error().message.find("factor V does not hold the dequantized values") !=
            std::string::npos);

      rt::testing::TempDir dir;
      rt::CompressedModel model;
      model.low_rank.push_back(l);
      rt::CompressedCheckpoint ckpt = write_and_reopen_one(dir.file("l.safetensors"), model, rt::encoded_bytes(l));
      const rt::LogicalTensor& t = ckpt.tensors()[0];
      CHECK(t.name == "lr.weight");
      CHECK(t.encoding == rt::Encoding::LowRank);
      CHECK(t.shape == std::vector<std::int64_t>{6, 9});
      REQUIRE(t.factors.size() == 2);
      CHECK(t.factors[0].name == "lr.weight_u.weight");
      CHECK(t.stored_bytes() == rt::encoded_bytes(l));
      kmr::Expected<rt::LowRankTensor> back = ckpt.read_low_rank(t);
      REQUIRE(back.ok());
      REQUIRE(back->u_quantized.has_value());
      CHECK(back->u_quantized->codes == l.u_quantized->codes);
      CHECK(back->v_quantized->codes == l.v_quantized->codes);
      CHECK(same_bits(back->v_quantized->scales, l.v_quantized->scales));
      kmr::Expected<std::vector<float>> decoded = ckpt.decode(t);
      REQUIRE(decoded.ok());
      CHECK(same_bits(*decoded, rt::dequantize(l)));
    }
  }

  TEST_CASE("a mixed model: every tensor decodes, the metadata records config, dtypes and provenance") {
    rt::testing::SampleModel sample = rt::testing::sample_model();
    rt::testing::TempDir dir;
    const std::string path = dir.file("model.safetensors");
    kmr::Status written = rt::write_compressed(path, sample.model, sample.provenance);
    REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().message));
    CHECK(data_bytes_of(path) == rt::encoded_bytes(sample.model));

    rt::CompressedCheckpoint ckpt = open_compressed(path);
    std::vector<std::string> names;
    for (const rt::LogicalTensor& t : ckpt.tensors()) names.push_back(t.name);
    CHECK(names == std::vector<std::string>{"lq.weight", "lr.weight", "nan.weight", "q2.weight", "q3.weight",
                                            "q4.weight", "q8.bias", "q8.weight", "qb.weight", "scalar", "sp.weight"});
    for (const rt::QuantizedTensor& q : sample.model.quantized) {
      INFO(q.name);
      const rt::LogicalTensor* t = ckpt.find(q.name);
      REQUIRE(t != nullptr);
      CHECK(t->dtype == q.dtype);
      CHECK(t->stored_bytes() == rt::encoded_bytes(q));
      kmr::Expected<std::vector<float>> decoded = ckpt.decode(*t);
      REQUIRE(decoded.ok());
      CHECK(same_bits(*decoded, expected_values(q)));
    }
    kmr::Expected<std::vector<float>> sparse = ckpt.decode(*ckpt.find("sp.weight"));
    REQUIRE(sparse.ok());
    CHECK(same_bits(*sparse, rt::dequantize(sample.model.sparse[0])));
    kmr::Expected<std::vector<float>> low_rank = ckpt.decode(*ckpt.find("lr.weight"));
    REQUIRE(low_rank.ok());
    CHECK(same_bits(*low_rank, rt::dequantize(sample.model.low_rank[0])));
    const rt::LogicalTensor* factored = ckpt.find("lq.weight");
    REQUIRE(factored != nullptr);
    CHECK(factored->encoding == rt::Encoding::LowRank);
    CHECK(factored->stored_bytes() == rt::encoded_bytes(sample.model.low_rank[1]));
    kmr::Expected<std::vector<float>> quantized_factors = ckpt.decode(*factored);
    REQUIRE(quantized_factors.ok());
    CHECK(same_bits(*quantized_factors, rt::dequantize(sample.model.low_rank[1])));
    kmr::Expected<std::vector<float>> dense = ckpt.decode(*ckpt.find("nan.weight"));
    REQUIRE(dense.ok());
    CHECK(same_bits(*dense, sample.dense_values[1]));

    const auto& meta = ckpt.checkpoint().metadata();
    CHECK(meta.at("format") == "pt");
    CHECK(meta.at("kmr.version") == "0.1.0");
    CHECK(meta.at("kmr.script_hash") == "sha256:0123abcd");
    CHECK(meta.at("kmr.knobs") == R"({"bits":"4","sparsity":"30%"})");
    CHECK(meta.at("kmr.dtypes") ==
          R"({"lq.weight":"F32","lr.weight":"F32","q2.weight":"F32","q3.weight":"F32","q4.weight":"F32",)"
          R"("q8.weight":"F32","qb.weight":"BF16","sp.weight":"F32"})");
    REQUIRE(ckpt.quantization_config().has_value());
    rt::QuantizationConfig config = *ckpt.quantization_config();
    CHECK(config.format == "mixed-precision");
    // The quantized factors of lq.weight are the modules lq.weight_u and lq.weight_v (group 0).
    REQUIRE(config.groups.size() == 6);
    CHECK(config.groups[0].targets == std::vector<std::string>{"lq.weight_u", "lq.weight_v"});
    config.groups.erase(config.groups.begin());
    CHECK(config.groups[0].targets == std::vector<std::string>{"q2"});
    CHECK(config.groups[0].format == "sparse-quantized");
    CHECK(config.groups[1].targets == std::vector<std::string>{"q3"});
    CHECK(config.groups[1].format == "sparse-quantized");
    CHECK(config.groups[2].targets == std::vector<std::string>{"q4"});
    CHECK(config.groups[2].format == "pack-quantized");
    CHECK(config.groups[3].targets == std::vector<std::string>{"q8"});
    CHECK(config.groups[3].format == "int-quantized");
    CHECK(ckpt.find("q2.weight")->encoding == rt::Encoding::SparseQuantized);
    CHECK(ckpt.find("q3.weight")->encoding == rt::Encoding::SparseQuantized);
    CHECK(ckpt.find("q4.weight")->encoding == rt::Encoding::PackQuantized);
    // Sparse-quantized modules are described by their quantization group alone.
    REQUIRE(config.sparsity.has_value());
    CHECK(config.sparsity->targets == std::vector<std::string>{"sp"});
    const double zeros = 1.0 - static_cast<double>(sample.model.sparse[0].values.size()) / 95.0;
    CHECK(config.sparsity->global_sparsity == doctest::Approx(zeros));
  }

  TEST_CASE("quantization_config is the JSON compressed-tensors writes") {
    rt::CompressedModel model;
    model.quantized.push_back(random_quantized("fc1.weight", {4, 64}, 4, rt::QuantStrategy::Group, 64, true, 1));
    model.quantized.push_back(random_quantized("fc2.weight", {4, 64}, 4, rt::QuantStrategy::Group, 64, true, 2));
    kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(model, {}, "m");
    REQUIRE(encoded.ok());
    CHECK(encoded->metadata.at("quantization_config") ==
          R"({"quant_method":"compressed-tensors","format":"pack-quantized","quantization_status":"compressed",)"
          R"("config_groups":{"group_0":{"targets":["fc1","fc2"],"weights":{"num_bits":4,"type":"int",)"
          R"("symmetric":true,"strategy":"group","group_size":64,"dynamic":false,"actorder":null,)"
          R"("block_structure":null},"input_activations":null,"output_activations":null,)"
          R"("format":"pack-quantized"}},"ignore":[],"kv_cache_scheme":null,"sparsity_config":null})");
    CHECK(encoded->metadata.count("kmr.version") == 0);  // empty provenance fields are omitted
  }

  TEST_CASE("configs written by other tools: class-name targets, regex targets and ignore lists") {
    const std::string text =
        R"({"quant_method":"compressed-tensors","format":"pack-quantized","ignore":["lm_head"],)"
        R"("config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int",)"
        R"("symmetric":true,"strategy":"group","group_size":128,"observer":"minmax","observer_kwargs":{}},)"
        R"("input_activations":null}},"version":"0.9.0"})";
    kmr::Expected<rt::QuantizationConfig> config = rt::parse_quantization_config(text, "f");
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    rt::SchemeMatch m = rt::scheme_for_module(*config, "model.layers.0.mlp.down_proj");
    REQUIRE(m.scheme != nullptr);
    CHECK_FALSE(m.by_name);
    CHECK(m.scheme->bits == 4);
    CHECK(m.scheme->group_size == 128);
    CHECK(rt::scheme_for_module(*config, "lm_head").scheme == nullptr);

    const std::string two =
        R"({"config_groups":{"a":{"targets":["re:.*mlp\\..*"],"weights":{"num_bits":4,"strategy":"channel"}},)"
        R"("b":{"targets":["layers.0.attn"],"weights":{"num_bits":8,"strategy":"channel","symmetric":false}}}})";
    kmr::Expected<rt::QuantizationConfig> config2 = rt::parse_quantization_config(two, "f");
    REQUIRE(config2.ok());
    CHECK(rt::scheme_for_module(*config2, "layers.0.mlp.up").scheme->bits == 4);
    CHECK(rt::scheme_for_module(*config2, "layers.0.attn").scheme->bits == 8);
    CHECK(rt::scheme_for_module(*config2, "layers.0.attn").by_name);
    CHECK(rt::scheme_for_module(*config2, "other").scheme == nullptr);
  }

  TEST_CASE("encoding refuses invalid tensors and names that would read back as something else") {
    auto refused = [](const rt::CompressedModel& model, const std::string& expected) {
      kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(model, {}, "out.safetensors");
      REQUIRE_FALSE(encoded.ok());
      INFO(encoded.error().message);
      CHECK(encoded.error().message.find(expected) != std::string::npos);
      CHECK(encoded.error().message.rfind("out.safetensors: ", 0) == 0);
    };
    const float scale = 1.0f;
    const std::int8_t i8 = 1;
    const rt::ByteView scale_bytes{reinterpret_cast<const std::uint8_t*>(&scale), 4};
    const rt::ByteView i8_bytes{reinterpret_cast<const std::uint8_t*>(&i8), 1};
    rt::CompressedModel model;
    model.quantized.push_back(random_quantized("q.weight", {2, 8}, 8, rt::QuantStrategy::Channel, 0, true, 1));
    model.dense.push_back({"q.weight_scale", rt::DType::F32, {1}, scale_bytes});
    refused(model, "'q.weight_scale'");

    model.dense = {{"q.weight", rt::DType::F32, {1}, scale_bytes}};
    refused(model, "tensor 'q.weight' is given twice");

    rt::CompressedModel impostor;  // a dense I8 weight beside a dense scale reads back as int-quantized
    impostor.dense = {{"x.weight", rt::DType::I8, {1}, i8_bytes}, {"x.weight_scale", rt::DType::F32, {1}, scale_bytes}};
    refused(impostor, "'x.weight' as int-quantized");

    rt::CompressedModel badname;
    badname.quantized.push_back(random_quantized("q.bias", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    refused(badname, "tensor 'q.bias': a compressed tensor must be named '<module>.weight'");

    rt::CompressedModel range;
    range.quantized.push_back(random_quantized("q.weight", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    range.quantized[0].codes[5] = 8;
    refused(range, "tensor 'q.weight': code 8 at element 5 is outside the 4-bit range [-8, 7]");

    rt::CompressedModel zeros;
    zeros.quantized.push_back(random_quantized("q.weight", {2, 8}, 3, rt::QuantStrategy::Channel, 0, false, 1));
    zeros.quantized[0].zero_points[1] = -5;
    refused(zeros, "zero point -5 of scale 1 is outside the 3-bit range [-4, 3]");

    rt::CompressedModel scales;
    scales.quantized.push_back(random_quantized("q.weight", {2, 100}, 4, rt::QuantStrategy::Group, 32, true, 1));
    scales.quantized[0].scales.pop_back();
    refused(scales, "has 7 scales, group quantization of shape [2, 100] needs 8");

    rt::CompressedModel group;
    group.quantized.push_back(random_quantized("q.weight", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    group.quantized[0].strategy = rt::QuantStrategy::Group;
    refused(group, "group size 0 must be at least 1");

    rt::CompressedModel utf8;
    utf8.quantized.push_back(random_quantized("\xff.weight", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    refused(utf8, "not valid UTF-8");

    rt::CompressedModel bits;
    bits.quantized.push_back(random_quantized("q.weight", {2, 8}, 4, rt::QuantStrategy::Channel, 0, true, 1));
    bits.quantized[0].bits = 9;
    refused(bits, "bit width 9 is outside 2..8");
  }
  TEST_CASE("the worked example of docs/format.md section 7, byte for byte") {
    rt::QuantizedTensor q;
    q.name = "fc.weight";
    q.shape = {2, 10};
    q.bits = 4;
    q.strategy = rt::QuantStrategy::Group;
    q.group_size = 8;
    q.codes = {-8, -1, 0, 7, 1, 2, 3, 4, 5, -3, 0, 1, 2, 3, 4, 5, 6, 7, -8, -7};
    q.scales = {0.5f, 0.25f, 0.125f, 1.0f};
    const float bias[2] = {1.5f, -2.0f};
    rt::CompressedModel model;
    model.dense.push_back({"fc.bias", rt::DType::F32, {2}, {reinterpret_cast<const std::uint8_t*>(bias), 8}});
    model.quantized.push_back(q);
    rt::testing::TempDir dir;
    kmr::Status written =
        rt::write_compressed(dir.file("ex.safetensors"), model, {"0.1.0", "sha256:5d41402a", {{"bits", "4"}}});
    REQUIRE(written.ok());
    const std::string header =
        R"__({"__metadata__":{"format":"pt","kmr.dtypes":"{\"fc.weight\":\"F32\"}","kmr.knobs":"{\"bits\":\"4)__"
        R"__(\"}","kmr.script_hash":"sha256:5d41402a","kmr.version":"0.1.0","quantization_config":"{\"quant_m)__"
        R"__(ethod\":\"compressed-tensors\",\"format\":\"pack-quantized\",\"quantization_status\":\"compresse)__"
        R"__(d\",\"config_groups\":{\"group_0\":{\"targets\":[\"fc\"],\"weights\":{\"num_bits\":4,\"type\":\")__"
        R"__(int\",\"symmetric\":true,\"strategy\":\"group\",\"group_size\":8,\"dynamic\":false,\"actorder\":)__"
        R"__(null,\"block_structure\":null},\"input_activations\":null,\"output_activations\":null,\"format\")__"
        R"__(:\"pack-quantized\"}},\"ignore\":[],\"kv_cache_scheme\":null,\"sparsity_config\":null}"},"fc.bia)__"
        R"__(s":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"fc.weight_packed":{"dtype":"I32","shape":[2)__"
        R"__(,2],"data_offsets":[8,24]},"fc.weight_scale":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40])__"
        R"__(},"fc.weight_shape":{"dtype":"I64","shape":[2],"data_offsets":[40,56]}})__";
    const unsigned char data[] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x70, 0xf8, 0xa9, 0xcb, 0x5d, 0x00,
                                  0x00, 0x00, 0x98, 0xba, 0xdc, 0xfe, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f,
                                  0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x00, 0x3e, 0x00, 0x00, 0x80, 0x3f, 0x02, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    const std::string expected =
        rt::testing::safetensors_bytes(header + " ", std::string(std::begin(data), std::end(data)));
    CHECK(expected.size() == 1000);
    CHECK(rt::testing::read_file(dir.file("ex.safetensors")) == expected);
    CHECK(rt::dequantize(q) == std::vector<float>{-4, -0.5f,  0,     3.5f,   0.5f, 1,      1.5f,  2,      1.25f, -0.75f,
                                                  0,  0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f, -8,    -7});
  }

  TEST_CASE("the small examples of docs/format.md sections 3.3 and 4") {
    rt::QuantizedTensor a;
    a.name = "up.weight";
    a.shape = {2, 16};
    a.bits = 2;
    a.symmetric = false;
    for (int i = 0; i < 4; ++i) a.codes.insert(a.codes.end(), {-2, -1, 0, 1});
    for (int i = 0; i < 4; ++i) a.codes.insert(a.codes.end(), {1, 1, -2, 0});
    a.scales = {0.5f, 0.25f};
    a.zero_points = {-1, 0};
    kmr::Expected<rt::EncodedTensors> encoded = rt::encode(a);
    REQUIRE(encoded.ok());
    auto bytes_of = [&](const std::string& name) {
      for (const rt::TensorToWrite& t : encoded->tensors()) {
        if (t.name == name) return std::vector<std::uint8_t>(t.data.data, t.data.data + t.data.size);
      }
      return std::vector<std::uint8_t>{};
    };
    CHECK(encoded->tensors().size() == 4);
    CHECK(bytes_of("up.weight_packed") == std::vector<std::uint8_t>{0xe4, 0xe4, 0xe4, 0xe4, 0x8f, 0x8f, 0x8f, 0x8f});
    CHECK(bytes_of("up.weight_scale") == std::vector<std::uint8_t>{0, 0, 0, 0x3f, 0, 0, 0x80, 0x3e});
    CHECK(bytes_of("up.weight_zero_point") == std::vector<std::uint8_t>{0x09, 0, 0, 0});
    // 8 bytes of codes; the sparse form's 4-byte mask plus 24 stored codes in 8 bytes loses.
    CHECK(rt::encoded_bytes(a) == 8 + 8 + 16 + 4);
    const std::vector<float> row0 = {-0.5f, 0, 0.5f, 1}, row1 = {0.25f, 0.25f, -0.5f, 0};
    std::vector<float> values;
    for (int i = 0; i < 4; ++i) values.insert(values.end(), row0.begin(), row0.end());
    for (int i = 0; i < 4; ++i) values.insert(values.end(), row1.begin(), row1.end());
    CHECK(rt::dequantize(a) == values);

    rt::QuantizedTensor b;
    b.name = "emb.weight";
    b.shape = {2, 3};
    b.bits = 8;
    b.symmetric = false;
    b.codes = {-128, 0, 127, 5, -5, 100};
    b.scales = {0.5f, 0.25f};
    b.zero_points = {-3, 10};
    encoded = rt::encode(b);
    REQUIRE(encoded.ok());
    CHECK(bytes_of("emb.weight") == std::vector<std::uint8_t>{0x80, 0x00, 0x7f, 0x05, 0xfb, 0x64});
    CHECK(bytes_of("emb.weight_zero_point") == std::vector<std::uint8_t>{0xfd, 0x0a});
    CHECK(rt::dequantize(b) == std::vector<float>{-62.5f, 1.5f, 65, -1.25f, -3.75f, 22.5f});
  }

  TEST_CASE("the sparse-quantized example of docs/format.md section 3.4, byte for byte") {
    rt::QuantizedTensor q;
    q.name = "dn.weight";
    q.shape = {3, 12};
    q.bits = 3;
    q.symmetric = false;
    q.codes = {0,  0,  3,  0,  0,  0,  0,  0,  -4, 0,  0,  1,   //
               -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  //
               2,  0,  2,  2,  2,  2,  2,  2,  2,  2,  -1, 2};
    q.scales = {0.5f, 0.25f, 2.0f};
    q.zero_points = {0, -1, 2};
    CHECK(rt::stored_code_count(q) == 5);
    CHECK(rt::stored_encoding(q) == rt::Encoding::SparseQuantized);
    CHECK(rt::encoded_bytes(q) == 42);  // pack-quantized would take 56
    kmr::Expected<rt::EncodedTensors> encoded = rt::encode(q);
    REQUIRE(encoded.ok());
    std::map<std::string, std::pair<rt::DType, std::vector<std::int64_t>>> layout;
    std::map<std::string, std::vector<std::uint8_t>> bytes;
    for (const rt::TensorToWrite& t : encoded->tensors()) {
      layout[t.name] = {t.dtype, t.shape};
      bytes[t.name].assign(t.data.data, t.data.data + t.data.size);
    }
    using Layout = std::pair<rt::DType, std::vector<std::int64_t>>;
    CHECK(layout.size() == 5);
    CHECK(layout["dn.bitmask"] == Layout{rt::DType::U8, {3, 2}});
    CHECK(layout["dn.weight_packed"] == Layout{rt::DType::I32, {1}});
    CHECK(layout["dn.weight_scale"] == Layout{rt::DType::F32, {3, 1}});
    CHECK(layout["dn.weight_shape"] == Layout{rt::DType::I64, {2}});
    CHECK(layout["dn.weight_zero_point"] == Layout{rt::DType::I32, {1, 1}});
    CHECK(bytes["dn.bitmask"] == std::vector<std::uint8_t>{0x04, 0x09, 0x00, 0x00, 0x02, 0x04});
    CHECK(bytes["dn.weight_packed"] == std::vector<std::uint8_t>{0x47, 0x39, 0x00, 0x00});
    CHECK(bytes["dn.weight_scale"] == std::vector<std::uint8_t>{0, 0, 0, 0x3f, 0, 0, 0x80, 0x3e, 0, 0, 0, 0x40});
    CHECK(bytes["dn.weight_zero_point"] == std::vector<std::uint8_t>{0x9c, 0x01, 0x00, 0x00});
    CHECK(rt::dequantize(q) == std::vector<float>{0, 0,  1.5f, 0, 0, 0, 0, 0, -2, 0, 0,  0.5f,  //
                                                  0, 0,  0,    0, 0, 0, 0, 0, 0,  0, 0,  0,     //
                                                  0, -4, 0,    0, 0, 0, 0, 0, 0,  0, -6, 0});
    check_quantized_round_trip(q);
  }

  TEST_CASE("sparse-quantized: bits 2..8, every scale grid, both symmetries, 0-100% pruned, edge shapes") {
    struct Grid {
      rt::QuantStrategy strategy;
      std::int64_t group;
    };
    const Grid grids[] = {{rt::QuantStrategy::Tensor, 0},
                          {rt::QuantStrategy::Channel, 0},
                          {rt::QuantStrategy::Group, 64},
                          {rt::QuantStrategy::Group, 7}};
    // [6, 150] has partial last groups (150 = 2 x 64 + 22 = 21 x 7 + 3); then a scalar,
    // 1 x 1, 1 x n, 1-d, and no rows.
    const std::vector<std::vector<std::int64_t>> shapes = {{6, 150}, {}, {1, 1}, {1, 45}, {9}, {0, 16}};
    std::uint64_t seed = 1000;
    int sparse = 0, full = 0;
    for (int bits = 2; bits <= 8; ++bits) {
      for (bool symmetric : {true, false}) {
        INFO("bits " << bits << (symmetric ? " sym" : " asym"));
        // One file per bit width and symmetry (fsyncs are slow), one module per case.
        std::vector<rt::QuantizedTensor> tensors;
        std::vector<double> pruned_of;
        for (const Grid& g : grids) {
          for (double pruned : {0.0, 0.5, 0.9, 1.0}) {
            for (const std::vector<std::int64_t>& shape : shapes) {
              const std::string name = "w" + std::to_string(tensors.size()) + ".weight";
              tensors.push_back(random_quantized(name, shape, bits, g.strategy, g.group, symmetric, seed));
              rt::testing::prune_codes(tensors.back(), pruned, seed++);
              pruned_of.push_back(shape == std::vector<std::int64_t>{6, 150} ? pruned : -1);
            }
          }
        }
        const std::vector<rt::Encoding> forms = check_quantized_round_trips(tensors);
        for (std::size_t i = 0; i < forms.size(); ++i) {
          INFO(tensors[i].name << ": " << rt::strategy_name(tensors[i].strategy) << " group " << tensors[i].group_size
                               << " shape " << rt::shape_string(tensors[i].shape));
          (forms[i] == rt::Encoding::SparseQuantized ? sparse : full) += 1;
          // Unpruned, the [6, 150] codes are dense; pruned by 90% or more, the mask always wins.
          if (pruned_of[i] == 0.0) CHECK(forms[i] != rt::Encoding::SparseQuantized);
          if (pruned_of[i] >= 0.9) CHECK(forms[i] == rt::Encoding::SparseQuantized);
        }
      }
    }
    MESSAGE(sparse << " tensors stored sparse-quantized, " << full << " with every code");
    CHECK(sparse > 300);
    CHECK(full > 300);
  }

  TEST_CASE("modules of one scheme stored both ways get a config group per format") {
    rt::CompressedModel model;
    model.quantized.push_back(random_quantized("a.weight", {8, 64}, 4, rt::QuantStrategy::Group, 32, true, 1));
    model.quantized.push_back(random_quantized("b.weight", {8, 64}, 4, rt::QuantStrategy::Group, 32, true, 2));
    model.quantized.push_back(random_quantized("c.weight", {8, 64}, 4, rt::QuantStrategy::Group, 32, true, 3));
    rt::testing::prune_codes(model.quantized[1], 0.75, 4);
    kmr::Expected<rt::EncodedCheckpoint> encoded = rt::encode_checkpoint(model, {}, "m");
    REQUIRE(encoded.ok());
    kmr::Expected<rt::QuantizationConfig> config =
        rt::parse_quantization_config(encoded->metadata.at("quantization_config"), "m");
    REQUIRE(config.ok());
    CHECK(config->format == "mixed-precision");
    REQUIRE(config->groups.size() == 2);
    CHECK(config->groups[0].targets == std::vector<std::string>{"a", "c"});
    CHECK(config->groups[0].format == "pack-quantized");
    CHECK(config->groups[1].targets == std::vector<std::string>{"b"});
    CHECK(config->groups[1].format == "sparse-quantized");
    CHECK(config->groups[1].weights->bits == 4);
    CHECK_FALSE(config->sparsity.has_value());

    // Only sparse-quantized modules: that is the top-level format too.
    model.quantized.erase(model.quantized.begin() + 2);
    model.quantized.erase(model.quantized.begin());
    encoded = rt::encode_checkpoint(model, {}, "m");
    REQUIRE(encoded.ok());
    config = rt::parse_quantization_config(encoded->metadata.at("quantization_config"), "m");
    REQUIRE(config.ok());
    CHECK(config->format == "sparse-quantized");
  }

  TEST_CASE("the quickstart MLP at 3 bits in groups of 64 fits 96 KiB once half its codes are zero") {
    // fc1 [256, 784], fc2 [128, 256], fc3 [10, 128] and their dense F32 biases.
    const std::vector<std::vector<std::int64_t>> shapes = {{256, 784}, {128, 256}, {10, 128}};
    std::vector<std::vector<float>> biases;
    biases.reserve(shapes.size());
    rt::CompressedModel model;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const std::string fc = "fc" + std::to_string(i + 1);
      model.quantized.push_back(
          random_quantized(fc + ".weight", shapes[i], 3, rt::QuantStrategy::Group, 64, true, 20 + i));
      for (std::int8_t& code : model.quantized.back().codes) code = code == 0 ? 1 : code;
      biases.emplace_back(static_cast<std::size_t>(shapes[i][0]), 0.5f);
      model.dense.push_back({fc + ".bias",
                             rt::DType::F32,
                             {shapes[i][0]},
                             {reinterpret_cast<const std::uint8_t*>(biases.back().data()), biases.back().size() * 4}});
    }
    const std::uint64_t budget = 96 * 1024;
    // Every code kept: 94,224 + 15,376 + 616 bytes of weights, 1,576 of biases.
    CHECK(rt::encoded_bytes(model) == 111792);
    // Every other code zero (what 50% pruning leaves): masks of 25,088 + 4,096 + 160 bytes
    // and half the packed words.
    for (rt::QuantizedTensor& q : model.quantized) {
      for (std::size_t i = 0; i < q.codes.size(); i += 2) q.codes[i] = 0;
    }
    CHECK(rt::encoded_bytes(model) == 93364);
    CHECK(rt::encoded_bytes(model) < budget);
    for (const rt::QuantizedTensor& q : model.quantized) CHECK(rt::stored_encoding(q) == rt::Encoding::SparseQuantized);
    rt::testing::TempDir dir;
    write_model(dir.file("mlp.safetensors"), model);
    CHECK(data_bytes_of(dir.file("mlp.safetensors")) == 93364);
    MESSAGE("quickstart MLP, 3 bits, groups of 64: 111792 bytes dense codes, 93364 with half the codes zero");
  }
}
