// What `kmrc inspect` reports about a checkpoint: each dense tensor's storage, size and
// value statistics, with compressed groups shown as the one tensor they encode.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/compressed_layout.h"
#include "support/expected.h"

namespace kmr::runtime {

struct TensorSummary {
  std::string name;  // the dense name
  Encoding encoding = Encoding::Dense;
  std::string scheme;               // "int4 group 64 asym", "rank 8", "" for dense ...
  DType dtype = DType::F32;         // the dense dtype
  std::vector<std::int64_t> shape;  // the dense shape
  std::int64_t numel = 0;
  std::uint64_t bytes = 0;        // tensor data bytes of the stored parts
  std::vector<TensorInfo> parts;  // the stored tensors (the tensor itself when dense)
  /// Elements that are zero, and (float values only) NaN and infinite ones, counted on the
  /// decoded values; nullopt where the dtype has no such notion (C64, F4, F6).
  std::optional<std::int64_t> zeros;
  std::optional<std::int64_t> nans;
  std::optional<std::int64_t> infs;

  /// Stored bits per dense element (0 for an empty tensor).
  double bits_per_weight() const;
};

struct CheckpointSummary {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<TensorSummary> tensors;  // sorted by name
  std::int64_t numel = 0;              // totals over `tensors`
  std::uint64_t bytes = 0;
  std::int64_t nans = 0;
  std::int64_t infs = 0;
};

/// Reads every tensor once (decoding compressed ones) to fill in the summary; memory stays
/// at one decoded tensor (dense ones are scanned in chunks). Fails on the first tensor that
/// does not decode, naming the file and tensor.
kmr::Expected<CheckpointSummary> summarize_checkpoint(const CompressedCheckpoint& checkpoint);

}  // namespace kmr::runtime
