// Decoding every compressed group of a checkpoint and saving the dense result.
#include "runtime/checkpoint_decompression.h"

#include "runtime/encoded_tensors.h"

namespace kmr::runtime {

kmr::Status decompress_checkpoint(const CompressedCheckpoint& checkpoint, const std::string& out_path,
                                  const WriteOptions& options) {
  EncodedTensors out;
  for (const LogicalTensor& t : checkpoint.tensors()) {
    if (t.encoding == Encoding::Dense) {
      const TensorInfo& info = t.parts.at("");
      kmr::Expected<ByteView> raw = checkpoint.checkpoint().bytes(info);
      if (!raw) return raw.error();
      out.add_view({info.name, info.dtype, info.shape, *raw});
      continue;
    }
    kmr::Expected<std::vector<float>> values = checkpoint.decode(t);
    if (!values) return values.error();
    out.add(t.name, t.dtype, t.shape, float_bytes(*values, t.dtype));
  }
  std::map<std::string, std::string> metadata = checkpoint.checkpoint().metadata();
  metadata.erase(kMetaQuantizationConfig);
  metadata.erase(kMetaDtypes);
  metadata.erase("total_size");  // an index's figure for the shards, not this file
  return write_safetensors(out_path, out.tensors(), metadata, options);
}

}  // namespace kmr::runtime
