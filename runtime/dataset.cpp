// Turning an IDX image file and an IDX label file into a Dataset.
#include "runtime/dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/idx_reader.h"

namespace kmr::runtime {

kmr::Expected<Dataset> load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                                        std::int64_t limit) {
  kmr::Expected<IdxHeader> label_header = read_idx_header(labels_path);
  if (!label_header) return label_header.error();
  if (label_header->dims.size() != 1) {
    return kmr::Error{labels_path + ": labels must be 1-D, found " + std::to_string(label_header->dims.size()) +
                      " dimensions"};
  }
  if (label_header->type == IdxType::f32 || label_header->type == IdxType::f64) {
    return kmr::Error{labels_path + ": labels must be integers, not floats"};
  }
  kmr::Expected<IdxHeader> image_header = read_idx_header(images_path);
  if (!image_header) return image_header.error();
  if (image_header->dims[0] != label_header->dims[0]) {
    return kmr::Error{images_path + " holds " + std::to_string(image_header->dims[0]) + " examples but " + labels_path +
                      " holds " + std::to_string(label_header->dims[0]) + " labels"};
  }

  kmr::Expected<IdxArray> images = read_idx(images_path, limit);
  if (!images) return images.error();
  kmr::Expected<IdxArray> labels = read_idx(labels_path, limit);
  if (!labels) return labels.error();

  Dataset data;
  data.count = images->items;
  data.features = images->item_size;
  data.inputs.resize(images->size());
  if (images->header.type == IdxType::u8) {
    for (std::size_t i = 0; i < data.inputs.size(); ++i) data.inputs[i] = static_cast<float>(images->raw[i]) / 255.0f;
  } else {
    for (std::size_t i = 0; i < data.inputs.size(); ++i) data.inputs[i] = static_cast<float>(images->value(i));
  }
  data.labels.resize(labels->size());
  std::int32_t largest = -1;
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    const double v = labels->value(i);
    if (v < 0 || v > std::numeric_limits<std::int32_t>::max()) {
      return kmr::Error{labels_path + ": label " + std::to_string(static_cast<std::int64_t>(v)) + " of example " +
                        std::to_string(i) + " is negative or too large"};
    }
    data.labels[i] = static_cast<std::int32_t>(v);
    largest = std::max(largest, data.labels[i]);
  }
  data.num_classes = static_cast<std::int64_t>(largest) + 1;
  return data;
}

}  // namespace kmr::runtime
