// Writes safetensors files for the independent Python checker: valid ones through the writer
// (single file and sharded) and one deliberately broken file the checker must reject.
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/safetensors_writer.h"
#include "runtime/tensor_info.h"

namespace rt = kmr::runtime;

namespace {

std::string pattern(std::size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed * 17) & 0xff);
  return out;
}

rt::ByteView view(const std::string& s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

int fail(const kmr::Status& s) {
  fmt::print(stderr, "error: {}\n", s.error().message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "error: {}: {}\n", dir, ec.message());
    return 1;
  }
  // One tensor of every dtype (sizes chosen so packed 4- and 6-bit types fill whole bytes),
  // plus a scalar and an empty tensor.
  std::vector<std::string> payloads;
  std::vector<rt::TensorToWrite> tensors;
  for (rt::DType d : rt::kAllDTypes) {
    payloads.push_back(pattern(*rt::checked_byte_size(d, {2, 4}), static_cast<unsigned>(payloads.size())));
  }
  auto payload_of = [&](rt::DType d) {
    for (std::size_t i = 0; i < std::size(rt::kAllDTypes); ++i) {
      if (rt::kAllDTypes[i] == d) return view(payloads[i]);
    }
    return rt::ByteView{};
  };
  payloads.push_back(pattern(8, 99));
  for (std::size_t i = 0; i < std::size(rt::kAllDTypes); ++i) {
    tensors.push_back(
        {"t." + std::string(rt::dtype_name(rt::kAllDTypes[i])), rt::kAllDTypes[i], {2, 4}, view(payloads[i])});
  }
  tensors.push_back({"scalar", rt::DType::F64, {}, view(payloads.back())});
  tensors.push_back({"empty", rt::DType::F32, {0, 7}, {}});
  kmr::Status s = rt::write_safetensors(dir + "/sample.safetensors", tensors, {{"format", "pt"}, {"writer", "kmr"}});
  if (!s) return fail(s);

  // Two shards and their index.
  s = rt::write_safetensors(dir + "/sharded-00001-of-00002.safetensors",
                            {{"a.weight", rt::DType::F32, {2, 4}, payload_of(rt::DType::F32)}}, {});
  if (!s) return fail(s);
  s = rt::write_safetensors(dir + "/sharded-00002-of-00002.safetensors",
                            {{"b.weight", rt::DType::BF16, {2, 4}, payload_of(rt::DType::BF16)}}, {});
  if (!s) return fail(s);
  std::FILE* index = std::fopen((dir + "/sharded.safetensors.index.json").c_str(), "wb");
  if (index == nullptr) return 1;
  std::fputs(R"({"metadata": {"total_size": 48}, "weight_map": {"a.weight": "sharded-00001-of-00002.safetensors", )"
             R"("b.weight": "sharded-00002-of-00002.safetensors"}})",
             index);
  std::fclose(index);

  // Broken on purpose: the header claims 8 bytes of data, the file holds 4.
  const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string bad(8, '\0');
  for (int i = 0; i < 8; ++i) bad[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bad += header + std::string(4, '\0');
  std::FILE* broken = std::fopen((dir + "/broken.safetensors").c_str(), "wb");
  if (broken == nullptr) return 1;
  std::fwrite(bad.data(), 1, bad.size(), broken);
  std::fclose(broken);
  return 0;
}
