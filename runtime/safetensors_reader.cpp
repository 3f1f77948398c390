// The file-level checks of the format (length prefix, file size) around the header parser.
#include "runtime/safetensors_reader.h"

#include <new>

#include "runtime/float_codec.h"
#include "runtime/safetensors_header.h"
#include "support/large_buffers.h"

namespace kmr::runtime {
namespace {

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

kmr::Expected<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  kmr::Expected<MappedFile> mapped = MappedFile::open(path);
  if (!mapped) return mapped.error();
  const std::uint64_t size = mapped->size();
  if (size < 8) {
    return kmr::Error{path + ": file is " + std::to_string(size) + " bytes, too short for the 8-byte header length"};
  }
  const std::uint64_t header_len = load_le64(mapped->data());
  if (header_len > kMaxSafetensorsHeaderBytes) {
    return kmr::Error{path + ": header length " + std::to_string(header_len) + " exceeds the limit of " +
                      std::to_string(kMaxSafetensorsHeaderBytes) + " bytes"};
  }
  if (header_len > size - 8) {
    return kmr::Error{path + ": header length " + std::to_string(header_len) + " runs past the end of the file (" +
                      std::to_string(size) + " bytes)"};
  }
  std::string_view json(reinterpret_cast<const char*>(mapped->data() + 8), header_len);
  kmr::Expected<SafetensorsHeader> header = parse_safetensors_header(json, path);
  if (!header) return header.error();

  const std::uint64_t data_available = size - 8 - header_len;
  if (header->data_size > data_available) {
    return kmr::Error{path + ": tensors need " + std::to_string(header->data_size) +
                      " bytes of data but the file holds " + std::to_string(data_available) + " (truncated?)"};
  }
  if (header->data_size < data_available) {
    return kmr::Error{path + ": " + std::to_string(data_available - header->data_size) +
                      " trailing bytes after the last tensor's data"};
  }

  SafetensorsFile file;
  file.data_start_ = 8 + header_len;
  file.tensors_ = std::move(header->tensors);
  file.metadata_ = std::move(header->metadata);
  for (std::size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  file.file_ = std::make_shared<const MappedFile>(std::move(*mapped));
  return file;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

kmr::Expected<ByteView> SafetensorsFile::bytes(const TensorInfo& tensor) const {
  const TensorInfo* own = find(tensor.name);
  if (own == nullptr || own->begin != tensor.begin || own->end != tensor.end) {
    return kmr::Error{path() + ": tensor '" + tensor.name + "' is not part of this file"};
  }
  kmr::Status unchanged = file_->check_unchanged();
  if (!unchanged) return unchanged.error();
  if (own->end == own->begin) return ByteView{};
  return ByteView{file_->data() + data_start_ + own->begin, static_cast<std::size_t>(own->end - own->begin)};
}

kmr::Expected<std::vector<float>> SafetensorsFile::to_f32(const TensorInfo& tensor) const {
  if (!dtype_converts_to_f32(tensor.dtype)) {
    return kmr::Error{path() + ": tensor '" + tensor.name + "' has dtype " + std::string(dtype_name(tensor.dtype)) +
                      ", which does not convert to f32 (only F16, BF16, F32, F64 and F8 floats do)"};
  }
  kmr::Expected<ByteView> raw = bytes(tensor);
  if (!raw) return raw.error();
  // The header check guarantees the element count fits and matches the byte span.
  const std::size_t count = static_cast<std::size_t>(*checked_numel(tensor.shape));
  std::vector<float> out;
  try {
    resize_large(out, count);  // the kernels read it in huge pages
  } catch (const std::bad_alloc&) {
    return kmr::Error{path() + ": tensor '" + tensor.name + "': out of memory for " + std::to_string(count) +
                      " floats"};
  }
  decode_to_f32(tensor.dtype, raw->data, count, out.data());
  return out;
}

}  // namespace kmr::runtime
