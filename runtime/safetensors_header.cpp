// Header rules of the safetensors format, mirroring the reference crate's checks one by one.
#include "runtime/safetensors_header.h"

#include <algorithm>
#include <limits>

#include "runtime/strict_json.h"

namespace kmr::runtime {
namespace {

using Json = nlohmann::ordered_json;

kmr::Error tensor_error(const std::string& label, const std::string& name, const std::string& what) {
  return kmr::Error{label + ": tensor '" + name + "': " + what};
}

bool is_non_negative_integer(const Json& v) { return v.is_number_unsigned(); }

kmr::Status parse_metadata(const Json& value, const std::string& label, std::map<std::string, std::string>& out) {
  if (!value.is_object()) return kmr::Error{label + ": __metadata__ must be an object of strings"};
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) {
      return kmr::Error{label + ": __metadata__ entry '" + key + "' must be a string, not " + entry.type_name()};
    }
    out.emplace(key, entry.get<std::string>());
  }
  return kmr::Status::success();
}

kmr::Expected<TensorInfo> parse_tensor(const std::string& name, const Json& entry, const std::string& label) {
  if (!entry.is_object()) return tensor_error(label, name, "entry must be an object");
  TensorInfo info;
  info.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end()) return tensor_error(label, name, "missing \"dtype\"");
  if (!dtype_it->is_string()) return tensor_error(label, name, "\"dtype\" must be a string");
  const std::string& dtype_text = dtype_it->get_ref<const std::string&>();
  std::optional<DType> dtype = parse_dtype(dtype_text);
  if (!dtype) return tensor_error(label, name, "unknown dtype \"" + dtype_text + "\"");
  info.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end()) return tensor_error(label, name, "missing \"shape\"");
  if (!shape_it->is_array()) return tensor_error(label, name, "\"shape\" must be a list of non-negative integers");
  for (const Json& dim : *shape_it) {
    if (!is_non_negative_integer(dim) ||
        dim.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return tensor_error(label, name, "\"shape\" must be a list of non-negative integers, found " + dim.dump());
    }
    info.shape.push_back(static_cast<std::int64_t>(dim.get<std::uint64_t>()));
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end()) return tensor_error(label, name, "missing \"data_offsets\"");
  const Json& offsets = *offsets_it;
  if (!offsets.is_array() || offsets.size() != 2 || !is_non_negative_integer(offsets[0]) ||
      !is_non_negative_integer(offsets[1])) {
    return tensor_error(label, name, "\"data_offsets\" must be [begin, end] with non-negative integers");
  }
  info.begin = offsets[0].get<std::uint64_t>();
  info.end = offsets[1].get<std::uint64_t>();
  if (info.end < info.begin) {
    return tensor_error(
        label, name, "data_offsets end " + std::to_string(info.end) + " is before begin " + std::to_string(info.begin));
  }

  if (!checked_numel(info.shape)) {
    return tensor_error(label, name, "element count of shape " + shape_string(info.shape) + " overflows");
  }
  std::optional<std::uint64_t> bytes = checked_byte_size(info.dtype, info.shape);
  if (!bytes) {
    return tensor_error(
        label, name,
        "shape " + shape_string(info.shape) + " of " + dtype_text + " is not a whole number of bytes or overflows");
  }
  if (info.end - info.begin != *bytes) {
    return tensor_error(label, name,
                        "shape " + shape_string(info.shape) + " of " + dtype_text + " needs " + std::to_string(*bytes) +
                            " bytes but data_offsets span " + std::to_string(info.end - info.begin));
  }
  return info;
}

// Sorted spans must tile [0, data_size) exactly, as the reference's validate() demands.
kmr::Expected<std::uint64_t> check_contiguous(const std::vector<TensorInfo>& tensors, const std::string& label) {
  std::uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
    if (t.begin > expected) {
      return kmr::Error{label + ": gap in the data section: bytes [" + std::to_string(expected) + ", " +
                        std::to_string(t.begin) + ") before tensor '" + t.name + "' belong to no tensor"};
    }
    if (t.begin < expected) {
      return kmr::Error{label + ": tensor '" + t.name + "' data_offsets [" + std::to_string(t.begin) + ", " +
                        std::to_string(t.end) + "] overlap tensor '" + (previous ? previous->name : "") + "'"};
    }
    expected = t.end;
    previous = &t;
  }
  return expected;
}

}  // namespace

kmr::Expected<SafetensorsHeader> parse_safetensors_header(std::string_view json, const std::string& label) {
  const std::string header_label = label + ": header";
  // The reference rejects headers that do not open with '{' (InvalidHeaderStart).
  if (json.empty() || json.front() != '{') return kmr::Error{header_label + " does not start with '{'"};
  kmr::Expected<Json> parsed = parse_json_strict(json, header_label);
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return kmr::Error{header_label + " is not a JSON object"};

  SafetensorsHeader header;
  for (const auto& [key, value] : parsed->items()) {
    if (key == "__metadata__") {
      kmr::Status status = parse_metadata(value, label, header.metadata);
      if (!status) return status.error();
      continue;
    }
    kmr::Expected<TensorInfo> info = parse_tensor(key, value, label);
    if (!info) return info.error();
    header.tensors.push_back(std::move(*info));
  }
  std::stable_sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  kmr::Expected<std::uint64_t> data_size = check_contiguous(header.tensors, label);
  if (!data_size) return data_size.error();
  header.data_size = *data_size;
  return header;
}

}  // namespace kmr::runtime
