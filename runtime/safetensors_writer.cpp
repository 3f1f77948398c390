// Header layout and chunked data output for safetensors files.
#include "runtime/safetensors_writer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/atomic_file.h"
#include "runtime/tensor_info.h"

namespace kmr::runtime {
namespace {

using Json = nlohmann::ordered_json;

// Big enough to stream at disk speed, small enough that progress and cancellation respond.
constexpr std::size_t kChunkBytes = 8u << 20;

std::vector<const TensorToWrite*> sorted_by_name(const std::vector<TensorToWrite>& tensors) {
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  return order;
}

kmr::Status check_tensor(const TensorToWrite& t, const std::string& label) {
  const std::string where = label + ": tensor '" + t.name + "': ";
  if (t.name.empty()) return kmr::Error{label + ": a tensor has an empty name"};
  if (t.name == "__metadata__") return kmr::Error{where + "the name is reserved for metadata"};
  if (!checked_numel(t.shape)) return kmr::Error{where + "shape " + shape_string(t.shape) + " is invalid or overflows"};
  std::optional<std::uint64_t> bytes = checked_byte_size(t.dtype, t.shape);
  if (!bytes) {
    return kmr::Error{where + "shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) +
                      " is not a whole number of bytes"};
  }
  if (*bytes != t.data.size) {
    return kmr::Error{where + "shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                      std::to_string(*bytes) + " bytes but " + std::to_string(t.data.size) + " were given"};
  }
  if (t.data.size > 0 && t.data.data == nullptr) return kmr::Error{where + "data pointer is null"};
  return kmr::Status::success();
}

}  // namespace

kmr::Expected<std::string> build_safetensors_header(const std::vector<TensorToWrite>& tensors,
                                                    const std::map<std::string, std::string>& metadata,
                                                    const std::string& label) {
  std::set<std::string_view> names;
  for (const TensorToWrite& t : tensors) {
    kmr::Status ok = check_tensor(t, label);
    if (!ok) return ok.error();
    if (!names.insert(t.name).second) return kmr::Error{label + ": tensor '" + t.name + "' is given twice"};
  }
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const TensorToWrite* t : sorted_by_name(tensors)) {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(offset, static_cast<std::uint64_t>(t->data.size), &end)) {
      return kmr::Error{label + ": total data size overflows"};
    }
    header[t->name] =
        Json{{"dtype", std::string(dtype_name(t->dtype))}, {"shape", t->shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception&) {
    return kmr::Error{label + ": a tensor name or metadata string is not valid UTF-8"};
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

kmr::Status write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata, const WriteOptions& options) {
  kmr::Expected<std::string> header = build_safetensors_header(tensors, metadata, path);
  if (!header) return header.error();
  std::uint64_t total = 8 + header->size();
  for (const TensorToWrite& t : tensors) total += t.data.size;

  kmr::Expected<AtomicFile> file = AtomicFile::create(path);
  if (!file) return file.error();
  std::uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(header->size()) >> (8 * i));
  kmr::Status status = file->write(length, sizeof length);
  if (status) status = file->write(header->data(), header->size());
  std::uint64_t written = 8 + header->size();
  for (const TensorToWrite* t : sorted_by_name(tensors)) {
    for (std::size_t pos = 0; status && pos < t->data.size; pos += kChunkBytes) {
      const std::size_t n = std::min(kChunkBytes, t->data.size - pos);
      status = file->write(t->data.data + pos, n);
      written += n;
      if (status && options.on_progress) {
        kmr::Status go_on = options.on_progress(written, total);
        if (!go_on) status = kmr::Error{path + ": save cancelled: " + go_on.error().message};
      }
    }
  }
  if (!status) return status;  // the AtomicFile destructor removes the temporary file
  return file->commit();
}

}  // namespace kmr::runtime
