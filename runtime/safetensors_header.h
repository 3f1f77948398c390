// Validation of a safetensors JSON header against the format's rules, before any data is read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tensor_info.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Largest header the reference implementation accepts, in bytes.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

/// What a valid header says about the file.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // ordered by data_offsets (file order); ties keep header order
  std::map<std::string, std::string> metadata;
  std::uint64_t data_size = 0;  // bytes the tensors cover; the data section must be exactly this
};

/// Parses the header JSON and checks every rule of the format except the file-size one
/// (the caller compares data_size with what follows the header):
/// a JSON object without duplicate keys; `__metadata__` a string→string object; each tensor
/// an object with a known `dtype`, a `shape` of non-negative integers whose element count
/// fits in 64 bits, and `data_offsets` [begin, end] spanning exactly numel × element size;
/// spans sorted, starting at 0, with no gap or overlap. Messages start with `label`.
kmr::Expected<SafetensorsHeader> parse_safetensors_header(std::string_view json, const std::string& label);

}  // namespace kmr::runtime
