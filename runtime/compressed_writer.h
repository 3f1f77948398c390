// Saving a compressed model: every tensor in its layout, the quantization_config and the
// provenance in `__metadata__`, written atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/encoded_tensors.h"
#include "runtime/low_rank_tensor.h"
#include "runtime/quantized_tensor.h"
#include "runtime/safetensors_writer.h"
#include "runtime/sparse_tensor.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Where a compressed checkpoint came from, recorded in its metadata.
struct Provenance {
  std::string kmrc_version;                  // "kmr.version"
  std::string script_hash;                   // "kmr.script_hash"
  std::map<std::string, std::string> knobs;  // "kmr.knobs": knob name -> chosen value, as text
};

/// A model's tensors, each in the form it will be stored in.
struct CompressedModel {
  std::vector<TensorToWrite> dense;  // passed through unchanged; the caller keeps the bytes alive
  std::vector<QuantizedTensor> quantized;
  std::vector<SparseTensor> sparse;
  std::vector<LowRankTensor> low_rank;
};

/// The tensors and metadata of a compressed checkpoint, ready for write_safetensors.
struct EncodedCheckpoint {
  EncodedTensors tensors;
  std::map<std::string, std::string> metadata;
};

/// Encodes every tensor (encode(QuantizedTensor) ...) and builds the metadata:
/// "format": "pt" (what transformers expects of a PyTorch safetensors file);
/// "quantization_config" (make_quantization_config) when anything is quantized or sparse;
/// "kmr.dtypes", the original dtype of each compressed tensor, when any is compressed;
/// "kmr.version", "kmr.script_hash" and "kmr.knobs" from `provenance` (empty ones omitted).
/// Fails, with messages starting with `label`, when a tensor does not validate, two
/// tensors share a dense name, or the stored names would read back differently (a dense
/// tensor named like a companion, e.g. "fc1.weight_scale" next to a quantized fc1.weight).
/// The result views the model's dense tensors and 8-bit codes: `model` must outlive it.
kmr::Expected<EncodedCheckpoint> encode_checkpoint(const CompressedModel& model, const Provenance& provenance,
                                                   const std::string& label);

/// Bytes of tensor data the model's file holds: the dense tensors' bytes plus encoded_bytes
/// of each compressed one. Header bytes (the 8-byte length and the JSON) are not counted:
/// this is what the `encoded_size` meter measures. Precondition: every tensor validates.
std::uint64_t encoded_bytes(const CompressedModel& model);

/// encode_checkpoint, then write_safetensors at `path` (atomic: on failure nothing changes).
kmr::Status write_compressed(const std::string& path, const CompressedModel& model, const Provenance& provenance,
                             const WriteOptions& options = {});

}  // namespace kmr::runtime
