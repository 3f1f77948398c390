// Cache files: magic, key, object length, checksum, object; validated before any use.
#include "compiler/codegen/disk_cache.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "runtime/atomic_file.h"

namespace kmr::codegen {
namespace {

constexpr char kMagic[8] = {'K', 'M', 'R', 'J', 'I', 'T', 'O', '1'};
constexpr uint64_t kMaxObject = uint64_t{64} << 20;  // larger files are not ours

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u64(const std::string& in, size_t& at, uint64_t& v) {
  if (in.size() < at + 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  at += 8;
  return true;
}

}  // namespace

uint64_t stable_hash(const std::string& bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string default_cache_dir() {
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  if (auto dir = env("KMR_CACHE_DIR"); !dir.empty()) return dir;
  if (auto dir = env("XDG_CACHE_HOME"); !dir.empty()) return dir + "/kmr";
  if (auto dir = env("HOME"); !dir.empty()) return dir + "/.cache/kmr";
  return "";
}

std::string DiskCache::path_of(const std::string& key) const {
  return fmt::format("{}/{:016x}.kmrobj", dir_, stable_hash(key));
}

std::optional<std::string> DiskCache::load(const std::string& key) const {
  if (dir_.empty()) return std::nullopt;
  std::ifstream file(path_of(key), std::ios::binary);
  if (!file) return std::nullopt;
  std::string bytes;
  bytes.reserve(4096);
  char buffer[65536];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    bytes.append(buffer, static_cast<size_t>(file.gcount()));
    if (bytes.size() > kMaxObject + key.size() + 64) return std::nullopt;
  }
  size_t at = sizeof kMagic;
  if (bytes.size() < at || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  uint64_t key_size = 0, object_size = 0, checksum = 0;
  if (!get_u64(bytes, at, key_size) || key_size != key.size() || bytes.compare(at, key_size, key) != 0) return std::nullopt;
  at += key_size;
  if (!get_u64(bytes, at, object_size) || !get_u64(bytes, at, checksum)) return std::nullopt;
  if (object_size > kMaxObject || bytes.size() - at != object_size) return std::nullopt;
  std::string object = bytes.substr(at);
  if (stable_hash(object) != checksum) return std::nullopt;
  return object;
}

Status DiskCache::store(const std::string& key, const std::string& object) const {
  if (dir_.empty()) return Error{"no cache directory"};
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error{fmt::format("cannot create cache directory {}: {}", dir_, ec.message())};
  std::string bytes(kMagic, sizeof kMagic);
  put_u64(bytes, key.size());
  bytes += key;
  put_u64(bytes, object.size());
  put_u64(bytes, stable_hash(object));
  bytes += object;
  auto file = runtime::AtomicFile::create(path_of(key));
  if (!file) return file.error();
  if (auto status = file->write(bytes.data(), bytes.size()); !status) return status;
  return file->commit();
}

}  // namespace kmr::codegen
