// File names and shape rules of Fashion-MNIST on top of the generic IDX data set loader.
#include "runtime/fashion_mnist.h"

#include <filesystem>

#include "runtime/idx_reader.h"

namespace kmr::runtime {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSide = 28;
constexpr std::int64_t kClasses = 10;

std::string pick(const std::string& dir, const std::string& stem) {
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  std::error_code ec;
  if (fs::exists(gz, ec)) return gz.string();
  const fs::path plain = fs::path(dir) / stem;
  if (fs::exists(plain, ec)) return plain.string();
  return gz.string();  // neither exists: name the file Debian would install
}

kmr::Status check_headers(const std::string& images, const std::string& labels) {
  kmr::Expected<IdxHeader> ih = read_idx_header(images);
  if (!ih) return ih.error();
  kmr::Expected<IdxHeader> lh = read_idx_header(labels);
  if (!lh) return lh.error();
  if (ih->type != IdxType::u8 || ih->dims.size() != 3 || ih->dims[1] != kSide || ih->dims[2] != kSide) {
    return kmr::Error{images + ": expected u8 images of shape [N, 28, 28]"};
  }
  if (lh->type != IdxType::u8 || lh->dims.size() != 1) return kmr::Error{labels + ": expected u8 labels of shape [N]"};
  if (ih->dims[0] != lh->dims[0]) {
    return kmr::Error{images + " holds " + std::to_string(ih->dims[0]) + " images but " + labels + " holds " +
                      std::to_string(lh->dims[0]) + " labels"};
  }
  return kmr::Status::success();
}

}  // namespace

std::string default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

kmr::Expected<std::pair<std::string, std::string>> fashion_mnist_files(std::string_view split, const std::string& dir) {
  std::string prefix;
  if (split == "train") {
    prefix = "train";
  } else if (split == "test") {
    prefix = "t10k";
  } else {
    return kmr::Error{"fashion-mnist: unknown split \"" + std::string(split) + "\" (expected \"train\" or \"test\")"};
  }
  return std::make_pair(pick(dir, prefix + "-images-idx3-ubyte"), pick(dir, prefix + "-labels-idx1-ubyte"));
}

kmr::Expected<Dataset> load_fashion_mnist(std::string_view split, std::int64_t limit, const std::string& dir) {
  auto files = fashion_mnist_files(split, dir);
  if (!files) return files.error();
  kmr::Status ok = check_headers(files->first, files->second);
  if (!ok) return ok.error();
  kmr::Expected<Dataset> data = load_idx_dataset(files->first, files->second, limit);
  if (!data) return data;
  for (std::size_t i = 0; i < data->labels.size(); ++i) {
    if (data->labels[i] >= kClasses) {
      return kmr::Error{files->second + ": label " + std::to_string(data->labels[i]) + " of example " +
                        std::to_string(i) + " is not a Fashion-MNIST class (0-9)"};
    }
  }
  data->num_classes = kClasses;
  return data;
}

kmr::Status check_fashion_mnist(std::string_view split, const std::string& dir) {
  auto files = fashion_mnist_files(split, dir);
  if (!files) return files.error();
  return check_headers(files->first, files->second);
}

}  // namespace kmr::runtime
