// Size and value statistics per dense tensor, decoding compressed groups.
#include "runtime/checkpoint_summary.h"

#include <cmath>

#include "runtime/float_codec.h"

namespace kmr::runtime {
namespace {

// Dense f32 decoding in chunks keeps memory flat on multi-GiB tensors.
constexpr std::size_t kChunkElements = 1u << 20;

struct Counts {
  std::int64_t zeros = 0, nans = 0, infs = 0;
};

void count_floats(const float* values, std::size_t n, Counts& c) {
  for (std::size_t i = 0; i < n; ++i) {
    const float v = values[i];
    if (v == 0.0f) ++c.zeros;
    if (std::isnan(v)) ++c.nans;
    if (std::isinf(v)) ++c.infs;
  }
}

std::string scheme_text(const LogicalTensor& t) {
  switch (t.encoding) {
    case Encoding::Dense:
      return "";
    case Encoding::IntQuantized:
    case Encoding::PackQuantized:
    case Encoding::SparseQuantized: {
      if (!t.scheme) return "int8";
      const QuantScheme& s = *t.scheme;
      std::string text = "int" + std::to_string(s.bits) + " " + std::string(strategy_name(s.strategy));
      if (s.strategy == QuantStrategy::Group) text += " " + std::to_string(s.group_size);
      return text + (s.symmetric ? " sym" : " asym");
    }
    case Encoding::SparseBitmask:
      return "bitmask " + std::string(dtype_name(t.parts.at("compressed").dtype));
    case Encoding::LowRank:
      break;
  }
  if (!t.factors.empty())
    return "rank " + std::to_string(t.factors[0].shape.at(1)) + ", factors " + scheme_text(t.factors[0]);
  return "rank " + std::to_string(t.parts.at("weight_u").shape.at(1));
}

kmr::Status count_dense(const CompressedCheckpoint& ckpt, const LogicalTensor& t, TensorSummary& s) {
  const TensorInfo& info = t.parts.at("");
  kmr::Expected<ByteView> raw = ckpt.checkpoint().bytes(info);
  if (!raw) return raw.error();
  Counts c;
  if (dtype_converts_to_f32(info.dtype)) {
    const std::size_t width = static_cast<std::size_t>(dtype_bits(info.dtype) / 8);
    const std::size_t count = raw->size / width;
    std::vector<float> chunk(std::min(count, kChunkElements));
    for (std::size_t at = 0; at < count; at += chunk.size()) {
      const std::size_t n = std::min(chunk.size(), count - at);
      decode_to_f32(info.dtype, raw->data + at * width, n, chunk.data());
      count_floats(chunk.data(), n, c);
    }
    s.nans = c.nans;
    s.infs = c.infs;
  } else if (dtype_bits(info.dtype) % 8 == 0 && info.dtype != DType::C64) {
    // Integers and BOOL: an element is zero when all its bytes are.
    const std::size_t width = static_cast<std::size_t>(dtype_bits(info.dtype) / 8);
    for (std::size_t at = 0; at < raw->size; at += width) {
      bool zero = true;
      for (std::size_t b = 0; b < width; ++b) zero = zero && raw->data[at + b] == 0;
      c.zeros += zero ? 1 : 0;
    }
  } else {
    return kmr::Status::success();  // no per-element statistics for complex and packed sub-byte floats
  }
  s.zeros = c.zeros;
  return kmr::Status::success();
}

}  // namespace

double TensorSummary::bits_per_weight() const {
  return numel > 0 ? static_cast<double>(bytes) * 8.0 / static_cast<double>(numel) : 0.0;
}

kmr::Expected<CheckpointSummary> summarize_checkpoint(const CompressedCheckpoint& checkpoint) {
  CheckpointSummary summary;
  summary.path = checkpoint.path();
  summary.metadata = checkpoint.checkpoint().metadata();
  for (const LogicalTensor& t : checkpoint.tensors()) {
    TensorSummary s;
    s.name = t.name;
    s.encoding = t.encoding;
    s.scheme = scheme_text(t);
    s.dtype = t.dtype;
    s.shape = t.shape;
    s.numel = checked_numel(t.shape).value_or(0);
    s.bytes = t.stored_bytes();
    s.parts = t.stored_parts();
    if (t.encoding == Encoding::Dense) {
      if (kmr::Status ok = count_dense(checkpoint, t, s); !ok) return ok.error();
    } else {
      kmr::Expected<std::vector<float>> values = checkpoint.decode(t);
      if (!values) return values.error();
      Counts c;
      count_floats(values->data(), values->size(), c);
      s.zeros = c.zeros;
      s.nans = c.nans;
      s.infs = c.infs;
    }
    summary.numel += s.numel;
    summary.bytes += s.bytes;
    summary.nans += s.nans.value_or(0);
    summary.infs += s.infs.value_or(0);
    summary.tensors.push_back(std::move(s));
  }
  return summary;
}

}  // namespace kmr::runtime
