// Fashion-MNIST as Debian's dataset-fashion-mnist package installs it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/dataset.h"
#include "support/expected.h"

namespace kmr::runtime {

/// Where Debian installs the data set: /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();

/// The image and label file of `split` ("train" or "test") in `dir`: the .gz files Debian
/// ships, or uncompressed ones of the same name without .gz. Fails for another split name.
kmr::Expected<std::pair<std::string, std::string>> fashion_mnist_files(std::string_view split, const std::string& dir);

/// Loads `split` from `dir`: 28×28 u8 images as 784 floats (pixel / 255, row-major) and
/// labels 0–9; the first `limit` examples, all when negative. num_classes is always 10.
kmr::Expected<Dataset> load_fashion_mnist(std::string_view split, std::int64_t limit,
                                          const std::string& dir = default_fashion_mnist_dir());

/// Cheap check that `split` is present and sane: both files exist, their IDX headers are
/// u8 [N, 28, 28] and [N], and their sizes agree with the headers. Decompresses only the
/// headers.
kmr::Status check_fashion_mnist(std::string_view split, const std::string& dir = default_fashion_mnist_dir());

}  // namespace kmr::runtime
