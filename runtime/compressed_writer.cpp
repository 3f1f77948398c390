// Encoding a whole compressed model and recording how it was encoded.
#include "runtime/compressed_writer.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "runtime/compressed_layout.h"
#include "runtime/quantization_config.h"

namespace kmr::runtime {
namespace {

// Sorted keys (nlohmann::json is map-ordered), so the metadata is the same whatever order
// the caller lists tensors and knobs in.
using Json = nlohmann::json;

// What a checkpoint stores of t: encode(t), with 8-bit codes viewed where they are (the
// model outlives its encoded checkpoint, as it does for its dense tensors).
kmr::Expected<EncodedTensors> encode_for_checkpoint(const QuantizedTensor& q) { return encode(q, CodeStorage::View); }
template <class T>
kmr::Expected<EncodedTensors> encode_for_checkpoint(const T& t) {
  return encode(t);
}

// Appends encode_for_checkpoint(t) for each tensor, remembering the encoding each dense
// name expects.
template <class T, class EncodingOf>
kmr::Status encode_all(const std::vector<T>& tensors, EncodingOf encoding_of, const std::string& label,
                       EncodedCheckpoint& out, std::map<std::string, Encoding>& expected, Json& dtypes) {
  for (const T& t : tensors) {
    kmr::Expected<EncodedTensors> encoded = encode_for_checkpoint(t);
    if (!encoded) return kmr::Error{label + ": " + encoded.error().message};
    if (!expected.emplace(t.name, encoding_of(t)).second) {
      return kmr::Error{label + ": tensor '" + t.name + "' is given twice"};
    }
    dtypes[t.name] = std::string(dtype_name(t.dtype));
    out.tensors.append(std::move(*encoded));
  }
  return kmr::Status::success();
}

// The stored names must group back into exactly the tensors given, or the file would
// decode to something else.
kmr::Status check_round_trip(const EncodedCheckpoint& out, const std::optional<QuantizationConfig>& config,
                             const std::map<std::string, Encoding>& expected, const std::string& label) {
  std::vector<TensorInfo> infos;
  std::set<std::string> names;
  for (const TensorToWrite& t : out.tensors.tensors()) {
    if (!names.insert(t.name).second) {
      return kmr::Error{label + ": two tensors are stored as '" + t.name + "'"};
    }
    infos.push_back({t.name, t.dtype, t.shape, 0, 0});
  }
  kmr::Expected<std::vector<LogicalTensor>> grouped = group_stored_tensors(infos, config, label);
  if (!grouped) return kmr::Error{grouped.error().message + " (a dense tensor's name collides with the layout)"};
  std::map<std::string, Encoding> found;
  for (const LogicalTensor& t : *grouped) found.emplace(t.name, t.encoding);
  for (const auto& [name, encoding] : found) {
    auto it = expected.find(name);
    if (it == expected.end() || it->second != encoding) {
      return kmr::Error{label + ": the stored tensors would read back with '" + name + "' as " +
                        std::string(encoding_name(encoding)) +
                        (it == expected.end() ? std::string(", which was not given")
                                              : ", not " + std::string(encoding_name(it->second))) +
                        "; rename the dense tensor that collides with the layout"};
    }
  }
  if (found.size() != expected.size()) {
    return kmr::Error{label + ": some tensors would not read back (a dense tensor's name collides with the layout)"};
  }
  return kmr::Status::success();
}

}  // namespace

kmr::Expected<EncodedCheckpoint> encode_checkpoint(const CompressedModel& model, const Provenance& provenance,
                                                   const std::string& label) {
  EncodedCheckpoint out;
  std::map<std::string, Encoding> expected;
  for (const TensorToWrite& t : model.dense) {
    if (!expected.emplace(t.name, Encoding::Dense).second) {
      return kmr::Error{label + ": tensor '" + t.name + "' is given twice"};
    }
    out.tensors.add_view(t);
  }
  Json dtypes = Json::object();
  if (auto s = encode_all(model.quantized, stored_encoding, label, out, expected, dtypes); !s) return s.error();
  const auto sparse_bitmask = [](const SparseTensor&) { return Encoding::SparseBitmask; };
  if (auto s = encode_all(model.sparse, sparse_bitmask, label, out, expected, dtypes); !s) return s.error();
  const auto low_rank = [](const LowRankTensor&) { return Encoding::LowRank; };
  if (auto s = encode_all(model.low_rank, low_rank, label, out, expected, dtypes); !s) return s.error();

  // The config is written only when something is quantized or sparse; reading back sees
  // exactly what the file will hold. Quantized low-rank factors are modules of their own.
  std::vector<const QuantizedTensor*> quantized;
  for (const QuantizedTensor& q : model.quantized) quantized.push_back(&q);
  for (const LowRankTensor& l : model.low_rank)
    if (l.u_quantized) quantized.insert(quantized.end(), {&*l.u_quantized, &*l.v_quantized});
  std::optional<QuantizationConfig> config;
  if (!quantized.empty() || !model.sparse.empty()) config = make_quantization_config(quantized, model.sparse);
  if (kmr::Status s = check_round_trip(out, config, expected, label); !s) return s.error();

  out.metadata[kMetaFormat] = "pt";
  if (!provenance.kmrc_version.empty()) out.metadata[kMetaVersion] = provenance.kmrc_version;
  if (!provenance.script_hash.empty()) out.metadata[kMetaScriptHash] = provenance.script_hash;
  try {  // dump() throws on names that are not UTF-8; nothing may throw across our API
    if (config) out.metadata[kMetaQuantizationConfig] = quantization_config_json(*config);
    if (!dtypes.empty()) out.metadata[kMetaDtypes] = dtypes.dump();
    if (!provenance.knobs.empty()) {
      Json knobs = Json::object();
      for (const auto& [name, value] : provenance.knobs) knobs[name] = value;
      out.metadata[kMetaKnobs] = knobs.dump();
    }
  } catch (const nlohmann::json::exception&) {
    return kmr::Error{label + ": a tensor name or knob is not valid UTF-8"};
  }
  return out;
}

std::uint64_t encoded_bytes(const CompressedModel& model) {
  std::uint64_t total = 0;
  for (const TensorToWrite& t : model.dense) total += t.data.size;
  for (const QuantizedTensor& q : model.quantized) total += encoded_bytes(q);
  for (const SparseTensor& s : model.sparse) total += encoded_bytes(s);
  for (const LowRankTensor& l : model.low_rank) total += encoded_bytes(l);
  return total;
}

kmr::Status write_compressed(const std::string& path, const CompressedModel& model, const Provenance& provenance,
                             const WriteOptions& options) {
  kmr::Expected<EncodedCheckpoint> encoded = encode_checkpoint(model, provenance, path);
  if (!encoded) return encoded.error();
  return write_safetensors(path, encoded->tensors.tensors(), encoded->metadata, options);
}

}  // namespace kmr::runtime
