// A labelled classification data set in memory, as training and accuracy meters consume it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/expected.h"

namespace kmr::runtime {

/// `count` examples of `features` floats each, with integer class labels.
struct Dataset {
  std::int64_t count = 0;
  std::int64_t features = 0;
  std::int64_t num_classes = 0;  // labels lie in [0, num_classes)
  std::vector<float> inputs;     // count × features, row-major
  std::vector<std::int32_t> labels;
};

/// Loads an IDX pair: inputs from `images_path` (u8 elements scaled to [0,1] by /255,
/// other types taken as they are), labels from `labels_path` (1-D, integer type, values ≥
/// 0). Reads the first `limit` examples, all when negative. Fails, naming the file, on
/// anything read_idx rejects, on non-integer labels, or when the two counts differ.
/// num_classes is one more than the largest label read.
kmr::Expected<Dataset> load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                                        std::int64_t limit);

}  // namespace kmr::runtime
