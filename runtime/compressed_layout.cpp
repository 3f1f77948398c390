// Reading compressed groups back, validated.
#include "runtime/compressed_layout.h"

#include <algorithm>

#include "runtime/bit_packing.h"
#include "runtime/bitmask.h"
#include "runtime/float_codec.h"
#include "runtime/little_endian.h"
#include "runtime/strict_json.h"

namespace kmr::runtime {
namespace {

bool is_integer_dtype(DType d) {
  return d == DType::I8 || d == DType::U8 || d == DType::I16 || d == DType::U16 || d == DType::I32 || d == DType::U32 ||
         d == DType::I64 || d == DType::U64;
}


std::string describe(const TensorInfo& t) {
  return "tensor '" + t.name + "' (" + std::string(dtype_name(t.dtype)) + " " + shape_string(t.shape) + ")";
}

kmr::Expected<std::vector<std::int64_t>> read_ints(const Checkpoint& ckpt, const TensorInfo& t) {
  if (!is_integer_dtype(t.dtype)) {
    return kmr::Error{ckpt.path() + ": " + describe(t) + " must hold integers"};
  }
  kmr::Expected<ByteView> raw = ckpt.bytes(t);
  if (!raw) return raw.error();
  const std::size_t width = static_cast<std::size_t>(dtype_bits(t.dtype) / 8);
  const bool is_signed =
      t.dtype == DType::I8 || t.dtype == DType::I16 || t.dtype == DType::I32 || t.dtype == DType::I64;
  std::vector<std::int64_t> out(raw->size / width);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t* p = raw->data + i * width;
    std::uint64_t u = 0;
    for (std::size_t b = 0; b < width; ++b) u |= static_cast<std::uint64_t>(p[b]) << (8 * b);
    if (is_signed && width < 8 && (u >> (8 * width - 1)) != 0) u |= ~std::uint64_t{0} << (8 * width);
    if (!is_signed && width == 8 && u > static_cast<std::uint64_t>(INT64_MAX)) {
      return kmr::Error{ckpt.path() + ": " + describe(t) + ": element " + std::to_string(i) + " exceeds 2^63 - 1"};
    }
    out[i] = static_cast<std::int64_t>(u);
  }
  return out;
}

kmr::Expected<std::vector<float>> read_floats(const Checkpoint& ckpt, const TensorInfo& t) {
  if (!dtype_converts_to_f32(t.dtype)) {
    return kmr::Error{ckpt.path() + ": " + describe(t) + " must hold floating-point values"};
  }
  kmr::Expected<ByteView> raw = ckpt.bytes(t);
  if (!raw) return raw.error();
  const std::size_t count = raw->size * 8 / static_cast<std::size_t>(dtype_bits(t.dtype));
  std::vector<float> out(count);
  decode_to_f32(t.dtype, raw->data, count, out.data());
  return out;
}

// A shape stored as a tensor (p.weight_shape, p.shape): a vector of non-negative integers
// whose element count, and rows x cols view, fit in int64.
kmr::Expected<std::vector<std::int64_t>> read_shape(const Checkpoint& ckpt, const TensorInfo& t) {
  if (t.shape.size() != 1) return kmr::Error{ckpt.path() + ": " + describe(t) + " must be a vector of dimensions"};
  kmr::Expected<std::vector<std::int64_t>> dims = read_ints(ckpt, t);
  if (!dims) return dims.error();
  if (!checked_numel(*dims) || !checked_matrix_dims(*dims)) {
    return kmr::Error{ckpt.path() + ": " + describe(t) + " holds the shape " + shape_string(*dims) +
                      ", which has a negative dimension or too many elements"};
  }
  return dims;
}

kmr::Error at_file(const Checkpoint& ckpt, const kmr::Error& e) { return kmr::Error{ckpt.path() + ": " + e.message}; }

// The mask of a weight of `shape`: U8 [rows, ceil(cols / 8)] with its padding bits clear.
kmr::Expected<ByteView> read_bitmask(const Checkpoint& ckpt, const TensorInfo& mask,
                                     const std::vector<std::int64_t>& shape) {
  const MatrixDims dims = matrix_dims(shape);
  const std::vector<std::int64_t> mask_shape = {dims.rows, bitmask_row_bytes(dims.cols)};
  if (mask.dtype != DType::U8 || mask.shape != mask_shape) {
    return kmr::Error{ckpt.path() + ": " + describe(mask) + " does not match the dense shape " + shape_string(shape) +
                      ", which needs U8 " + shape_string(mask_shape)};
  }
  kmr::Expected<ByteView> raw = ckpt.bytes(mask);
  if (!raw) return raw.error();
  if (std::int64_t r = bitmask_first_padded_row(raw->data, dims.rows, dims.cols); r >= 0) {
    return kmr::Error{ckpt.path() + ": tensor '" + mask.name + "': row " + std::to_string(r) +
                      " sets padding bits past column " + std::to_string(dims.cols - 1)};
  }
  return raw;
}

// The codes a sparse-quantized group stores: one per set bit of `mask`, packed flat in
// `packed` (I32 [ceil(n / (32 / bits))]) with padding fields and unused bits clear.
kmr::Expected<std::vector<std::int8_t>> read_stored_codes(const Checkpoint& ckpt, const TensorInfo& packed,
                                                          ByteView mask, int bits) {
  const std::int64_t count = bitmask_count(mask.data, mask.size);
  const std::vector<std::int64_t> want = {packed_word_count(count, bits)};
  if (packed.dtype != DType::I32 || packed.shape != want) {
    return kmr::Error{ckpt.path() + ": " + describe(packed) + " does not match its bitmask: " + std::to_string(count) +
                      " stored " + std::to_string(bits) + "-bit codes pack into I32 " + shape_string(want)};
  }
  kmr::Expected<ByteView> raw = ckpt.bytes(packed);
  if (!raw) return raw.error();
  std::vector<std::int8_t> codes(static_cast<std::size_t>(count));
  // The stored codes are one row of `count` codes.
  if (std::int64_t bad = unpack_rows(raw->data, 1, count, bits, codes.data()); bad >= 0) {
    return kmr::Error{ckpt.path() + ": tensor '" + packed.name + "': word " + std::to_string(bad) +
                      " sets bits outside its " + std::to_string(bits) +
                      "-bit fields (padding past the last stored code, or the word's unused top bits)"};
  }
  return codes;
}

}  // namespace

kmr::Expected<CompressedCheckpoint> CompressedCheckpoint::open(const std::string& path) {
  kmr::Expected<Checkpoint> ckpt = Checkpoint::open(path);
  if (!ckpt) return ckpt.error();
  return from(std::move(*ckpt));
}

kmr::Expected<CompressedCheckpoint> CompressedCheckpoint::from(Checkpoint checkpoint) {
  CompressedCheckpoint c(std::move(checkpoint));
  const std::string& path = c.checkpoint_.path();
  const auto& meta = c.checkpoint_.metadata();
  if (auto it = meta.find(kMetaQuantizationConfig); it != meta.end()) {
    kmr::Expected<QuantizationConfig> config = parse_quantization_config(it->second, path);
    if (!config) return config.error();
    c.config_ = std::move(*config);
  }
  std::map<std::string, DType> dtypes;
  if (auto it = meta.find(kMetaDtypes); it != meta.end()) {
    kmr::Expected<nlohmann::ordered_json> json = parse_json_strict(it->second, path + ": " + kMetaDtypes);
    if (!json) return json.error();
    if (!json->is_object()) return kmr::Error{path + ": " + kMetaDtypes + " must be a JSON object"};
    for (auto entry = json->begin(); entry != json->end(); ++entry) {
      std::optional<DType> d = entry.value().is_string() ? parse_dtype(entry.value().get<std::string>()) : std::nullopt;
      if (!d || !is_value_dtype(*d)) {
        return kmr::Error{path + ": " + kMetaDtypes + " gives tensor '" + entry.key() + "' the dtype " +
                          entry.value().dump() + "; original dtypes are F32, F16, BF16 or F64"};
      }
      dtypes[entry.key()] = *d;
    }
  }
  kmr::Expected<std::vector<LogicalTensor>> grouped = group_stored_tensors(c.checkpoint_.tensors(), c.config_, path);
  if (!grouped) return grouped.error();
  c.tensors_ = std::move(*grouped);
  for (LogicalTensor& t : c.tensors_) {
    if (kmr::Status ok = c.fill_shape(t); !ok) return ok.error();
    if (t.encoding == Encoding::Dense) continue;
    if (auto it = dtypes.find(t.name); it != dtypes.end()) {
      t.dtype = it->second;
    } else if (t.encoding == Encoding::SparseBitmask && is_value_dtype(t.parts.at("compressed").dtype)) {
      t.dtype = t.parts.at("compressed").dtype;
    } else {
      t.dtype = DType::F32;
    }
  }
  return c;
}

kmr::Status CompressedCheckpoint::fill_shape(LogicalTensor& t) const {
  const std::string& path = checkpoint_.path();
  switch (t.encoding) {
    case Encoding::Dense:
      t.shape = t.parts.at("").shape;
      t.dtype = t.parts.at("").dtype;
      return kmr::Status::success();
    case Encoding::IntQuantized:
      t.shape = t.parts.at("weight").shape;
      if (!checked_matrix_dims(t.shape)) {
        return kmr::Error{path + ": " + describe(t.parts.at("weight")) +
                          ": its dimensions after the first multiply to more than 2^63 - 1"};
      }
      return kmr::Status::success();
    case Encoding::PackQuantized:
    case Encoding::SparseQuantized:
    case Encoding::SparseBitmask: {
      kmr::Expected<std::vector<std::int64_t>> shape =
          read_shape(checkpoint_, *t.part(t.encoding == Encoding::SparseBitmask ? "shape" : "weight_shape"));
      if (!shape) return shape.error();
      t.shape = std::move(*shape);
      return kmr::Status::success();
    }
    case Encoding::LowRank:
      break;
  }
  std::vector<std::int64_t> u, v;
  std::string factors;
  if (t.factors.empty()) {
    u = t.parts.at("weight_u").shape;
    v = t.parts.at("weight_v").shape;
    factors = describe(t.parts.at("weight_u")) + " and " + describe(t.parts.at("weight_v"));
  } else {
    for (LogicalTensor& factor : t.factors) {
      if (kmr::Status ok = fill_shape(factor); !ok) return ok;
      factor.dtype = DType::F32;
    }
    u = t.factors[0].shape;
    v = t.factors[1].shape;
    factors = "'" + t.factors[0].name + "' and '" + t.factors[1].name + "'";
  }
  if (u.size() != 2 || v.size() != 2 || u[1] != v[0]) {
    return kmr::Error{path + ": low-rank factors " + factors + " must be matrices [rows, rank] and [rank, cols]"};
  }
  t.shape = {u[0], v[1]};
  if (!checked_numel(t.shape)) {
    return kmr::Error{path + ": low-rank factors of '" + t.name + "' multiply to too many elements"};
  }
  return kmr::Status::success();
}

const LogicalTensor* CompressedCheckpoint::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const LogicalTensor& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

kmr::Expected<QuantizedTensor> CompressedCheckpoint::read_quantized(const LogicalTensor& t) const {
  const std::string& path = checkpoint_.path();
  if (!is_quantized(t.encoding)) {
    return kmr::Error{path + ": tensor '" + t.name + "' is " + std::string(encoding_name(t.encoding)) +
                      ", not quantized"};
  }
  QuantizedTensor q;
  q.name = t.name;
  q.shape = t.shape;
  q.dtype = t.dtype;
  const MatrixDims dims = matrix_dims(t.shape);
  const TensorInfo& scale = t.parts.at("weight_scale");

  // The scheme; an int-quantized file without quantization_config is read as 8-bit with
  // the strategy its scale's shape implies.
  if (t.scheme) {
    q.bits = t.scheme->bits;
    q.strategy = t.scheme->strategy;
    q.group_size = t.scheme->group_size;
  } else {
    const std::optional<std::int64_t> n = checked_numel(scale.shape);
    if (n && *n == 1) {
      q.strategy = QuantStrategy::Tensor;
    } else if (n && *n == dims.rows && !scale.shape.empty() && scale.shape[0] == dims.rows) {
      q.strategy = QuantStrategy::Channel;
    } else {
      return kmr::Error{path + ": " + describe(scale) +
                        ": without a quantization_config only per-tensor and per-channel scales can be read"};
    }
  }

  // Codes. A sparse-quantized group's are scattered once the zero points are known.
  ByteView mask;
  std::vector<std::int8_t> stored;
  if (t.encoding == Encoding::SparseQuantized) {
    kmr::Expected<ByteView> m = read_bitmask(checkpoint_, t.parts.at("bitmask"), t.shape);
    if (!m) return m.error();
    mask = *m;
    kmr::Expected<std::vector<std::int8_t>> codes =
        read_stored_codes(checkpoint_, t.parts.at("weight_packed"), mask, q.bits);
    if (!codes) return codes.error();
    stored = std::move(*codes);
  } else if (t.encoding == Encoding::IntQuantized) {
    kmr::Expected<ByteView> raw = checkpoint_.bytes(t.parts.at("weight"));
    if (!raw) return raw.error();
    q.codes.assign(reinterpret_cast<const std::int8_t*>(raw->data),
                   reinterpret_cast<const std::int8_t*>(raw->data) + raw->size);
  } else {
    const TensorInfo& packed = t.parts.at("weight_packed");
    const std::vector<std::int64_t> want = {dims.rows, packed_word_count(dims.cols, q.bits)};
    if (packed.dtype != DType::I32 || packed.shape != want) {
      return kmr::Error{path + ": " + describe(packed) + " does not match its weight: " + std::to_string(q.bits) +
                        "-bit codes of shape " + shape_string(t.shape) + " pack into I32 " + shape_string(want)};
    }
    kmr::Expected<ByteView> raw = checkpoint_.bytes(packed);
    if (!raw) return raw.error();
    q.codes.resize(static_cast<std::size_t>(dims.rows * dims.cols));
    const std::int64_t bad = unpack_rows(raw->data, dims.rows, dims.cols, q.bits, q.codes.data());
    if (bad >= 0) {
      return kmr::Error{path + ": tensor '" + packed.name + "': word " + std::to_string(bad) + " (row " +
                        std::to_string(bad / want[1]) + ") sets bits outside its " + std::to_string(q.bits) +
                        "-bit fields (padding past the row's last code, or the word's unused top bits)"};
    }
  }

  // Scales.
  const std::int64_t scales = scale_count(q);
  const std::vector<std::int64_t> grid = q.strategy == QuantStrategy::Tensor ? std::vector<std::int64_t>{1}
                                         : q.strategy == QuantStrategy::Channel
                                             ? std::vector<std::int64_t>{dims.rows, 1}
                                             : std::vector<std::int64_t>{dims.rows, groups_per_row(q)};
  const bool scale_shape_ok =
      checked_numel(scale.shape) == scales &&
      (q.strategy == QuantStrategy::Tensor || scale.shape == grid ||
       (q.strategy == QuantStrategy::Channel && scale.shape == std::vector<std::int64_t>{dims.rows}));
  if (!scale_shape_ok) {
    std::string scheme = std::string(strategy_name(q.strategy)) + " quantization";
    if (q.strategy == QuantStrategy::Group) scheme += " (group size " + std::to_string(q.group_size) + ")";
    return kmr::Error{path + ": " + describe(scale) + " does not fit its weight: " + scheme + " of shape " +
                      shape_string(t.shape) + " needs " + std::to_string(scales) + " scales, shaped " +
                      shape_string(grid)};
  }
  kmr::Expected<std::vector<float>> scale_values = read_floats(checkpoint_, scale);
  if (!scale_values) return scale_values.error();
  q.scales = std::move(*scale_values);

  // Zero points: packed I32 along columns (pack-quantized channel/group), else one integer
  // per scale.
  q.symmetric = t.scheme ? t.scheme->symmetric : t.part("weight_zero_point") == nullptr;
  if (const TensorInfo* zp = t.part("weight_zero_point")) {
    std::vector<std::int8_t> zeros(static_cast<std::size_t>(scales));
    const std::vector<std::int64_t> packed_shape = {packed_word_count(dims.rows, q.bits), grid.back()};
    const bool may_pack = t.encoding != Encoding::IntQuantized && q.strategy != QuantStrategy::Tensor;
    if (may_pack && zp->dtype == DType::I32 && zp->shape == packed_shape) {
      kmr::Expected<ByteView> raw = checkpoint_.bytes(*zp);
      if (!raw) return raw.error();
      const std::int64_t bad = unpack_columns(raw->data, dims.rows, grid.back(), q.bits, zeros.data());
      if (bad >= 0) {
        return kmr::Error{path + ": tensor '" + zp->name + "': word " + std::to_string(bad) +
                          " sets bits outside its " + std::to_string(q.bits) + "-bit fields"};
      }
    } else {
      kmr::Expected<std::vector<std::int64_t>> values = read_ints(checkpoint_, *zp);
      if (!values) return values.error();
      if (static_cast<std::int64_t>(values->size()) != scales) {
        return kmr::Error{path + ": " + describe(*zp) + " must hold one zero point per scale (" +
                          std::to_string(scales) + ")" +
                          (may_pack ? ", or be those packed into I32 " + shape_string(packed_shape) : std::string())};
      }
      const std::int64_t lo = -(std::int64_t{1} << (q.bits - 1)), hi = (std::int64_t{1} << (q.bits - 1)) - 1;
      for (std::size_t i = 0; i < values->size(); ++i) {
        if ((*values)[i] < lo || (*values)[i] > hi) {
          return kmr::Error{path + ": tensor '" + zp->name + "': zero point " + std::to_string((*values)[i]) + " at " +
                            std::to_string(i) + " is outside the " + std::to_string(q.bits) + "-bit range [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]"};
        }
        zeros[i] = static_cast<std::int8_t>((*values)[i]);
      }
    }
    if (q.symmetric) {
      // Some writers store all-zero zero points for symmetric schemes; anything else
      // contradicts the config.
      for (std::size_t i = 0; i < zeros.size(); ++i) {
        if (zeros[i] != 0) {
          return kmr::Error{path + ": tensor '" + zp->name + "': zero point " + std::to_string(i) + " is " +
                            std::to_string(zeros[i]) + " but quantization_config says the scheme is symmetric"};
        }
      }
    } else {
      q.zero_points = std::move(zeros);
    }
  }
  if (t.encoding == Encoding::SparseQuantized) {
    if (std::int64_t i = scatter_stored_codes(mask.data, stored, q); i >= 0) {
      // Canonical files only: the writer leaves such elements out, and encoded_bytes
      // counts them out.
      return kmr::Error{path + ": tensor '" + t.parts.at("weight_packed").name + "': stored code " + std::to_string(i) +
                        " is " + std::to_string(stored[i]) +
                        ", its element's zero point; sparse-quantized stores only codes that differ from it"};
    }
  }
  if (kmr::Status ok = validate(q); !ok) return at_file(checkpoint_, ok.error());
  return q;
}

kmr::Expected<SparseTensor> CompressedCheckpoint::read_sparse(const LogicalTensor& t) const {
  const std::string& path = checkpoint_.path();
  if (t.encoding != Encoding::SparseBitmask) {
    return kmr::Error{path + ": tensor '" + t.name + "' is " + std::string(encoding_name(t.encoding)) +
                      ", not sparse-bitmask"};
  }
  const MatrixDims dims = matrix_dims(t.shape);
  const TensorInfo& values = t.parts.at("compressed");
  const TensorInfo& offsets = t.parts.at("row_offsets");
  kmr::Expected<ByteView> mask = read_bitmask(checkpoint_, t.parts.at("bitmask"), t.shape);
  if (!mask) return mask.error();
  if (values.shape.size() != 1 || !is_value_dtype(values.dtype)) {
    return kmr::Error{path + ": " + describe(values) + " must be a vector of F32, F16, BF16 or F64 values"};
  }
  if (offsets.shape != std::vector<std::int64_t>{dims.rows}) {
    return kmr::Error{path + ": " + describe(offsets) + " must hold one offset per row (" + std::to_string(dims.rows) +
                      ")"};
  }
  SparseTensor s;
  s.name = t.name;
  s.shape = t.shape;
  s.dtype = values.dtype;
  s.bitmask.assign(mask->data, mask->data + mask->size);
  kmr::Expected<std::vector<float>> v = read_floats(checkpoint_, values);
  if (!v) return v.error();
  s.values = std::move(*v);
  kmr::Expected<std::vector<std::int64_t>> rows = read_ints(checkpoint_, offsets);
  if (!rows) return rows.error();
  s.row_offsets = std::move(*rows);
  if (kmr::Status ok = validate(s); !ok) return at_file(checkpoint_, ok.error());
  return s;
}

kmr::Expected<LowRankTensor> CompressedCheckpoint::read_low_rank(const LogicalTensor& t) const {
  const std::string& path = checkpoint_.path();
  if (t.encoding != Encoding::LowRank) {
    return kmr::Error{path + ": tensor '" + t.name + "' is " + std::string(encoding_name(t.encoding)) +
                      ", not low-rank"};
  }
  LowRankTensor l;
  l.name = t.name;
  l.rows = t.shape[0];
  l.cols = t.shape[1];
  l.dtype = t.dtype;
  if (!t.factors.empty()) {
    kmr::Expected<QuantizedTensor> u = read_quantized(t.factors[0]);
    if (!u) return u.error();
    kmr::Expected<QuantizedTensor> v = read_quantized(t.factors[1]);
    if (!v) return v.error();
    l.rank = u->shape[1];
    l.u = dequantize(*u);
    l.v = dequantize(*v);
    l.u_quantized = std::move(*u);
    l.v_quantized = std::move(*v);
  } else {
    const TensorInfo& u = t.parts.at("weight_u");
    const TensorInfo& v = t.parts.at("weight_v");
    l.rank = u.shape[1];
    kmr::Expected<std::vector<float>> uf = read_floats(checkpoint_, u);
    if (!uf) return uf.error();
    kmr::Expected<std::vector<float>> vf = read_floats(checkpoint_, v);
    if (!vf) return vf.error();
    l.u = std::move(*uf);
    l.v = std::move(*vf);
  }
  if (kmr::Status ok = validate(l); !ok) return at_file(checkpoint_, ok.error());
  return l;
}

kmr::Expected<std::vector<float>> CompressedCheckpoint::decode(const LogicalTensor& t) const {
  switch (t.encoding) {
    case Encoding::Dense:
      return read_floats(checkpoint_, t.parts.at(""));
    case Encoding::IntQuantized:
    case Encoding::PackQuantized:
    case Encoding::SparseQuantized: {
      kmr::Expected<QuantizedTensor> q = read_quantized(t);
      if (!q) return q.error();
      return dequantize(*q);
    }
    case Encoding::SparseBitmask: {
      kmr::Expected<SparseTensor> s = read_sparse(t);
      if (!s) return s.error();
      return dequantize(*s);
    }
    case Encoding::LowRank:
      break;
  }
  kmr::Expected<LowRankTensor> l = read_low_rank(t);
  if (!l) return l.error();
  return dequantize(*l);
}

}  // namespace kmr::runtime
