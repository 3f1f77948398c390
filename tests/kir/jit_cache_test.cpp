// The JIT's caches: one compilation per structure in memory; on disk, a second JIT (a
// second process, as far as the cache can tell) compiles nothing, and a damaged cache
// file is ignored and rewritten. A kernel's native scans' fallbacks compile only when a
// run needs them, once, and are cached too.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "compiler/codegen/disk_cache.h"
#include "compiler/codegen/executor_testing.h"
#include "compiler/interp/interpreter.h"
#include "jit_helpers.h"
#include "kir_helpers.h"

namespace kmr::test {
namespace {

const char* kSource = R"(import "std/prune";
import "std/quant";
model base = load("m.safetensors", arch = mlp(act = relu));
knob sparsity : ratio in [0%, 90%] step 5% = 50%;
knob bits : int in {8, 4} = 8;
rule prune = magnitude_prune(sparsity) on base.match("fc*.weight");
rule quant = quantize(bits, group = 32) on base.match("fc*.weight");
rule quant_rows = quantize(bits) on base.match("fc*.weight");
pipeline small = base |> prune |> quant;
pipeline rows = base |> prune |> quant_rows;
)";

// A fresh directory under the system's temporary directory, removed at the end.
struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kmr-jit-cache-XXXXXX").string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(path)) out.push_back(entry.path().string());
    return out;
  }
};

std::unique_ptr<codegen::Jit> make_jit(const std::string& dir) {
  auto jit = codegen::Jit::create(codegen::JitOptions{dir});
  REQUIRE_MESSAGE(jit.ok(), (jit.ok() ? "" : jit.error().message));
  return std::move(*jit);
}

TEST_CASE("the in-memory cache compiles each structure once, whatever the kernel's name") {
  TempDir dir;
  auto jit = make_jit("");
  auto kernel = kernel_named(kSource, "small:prune|>quant");
  auto w = random_weights(8 * 64, 5, true);
  REQUIRE(jit->run(kernel, view(w, 8, 64), {0.5, 8}).ok());
  REQUIRE(jit->run(kernel, view(w, 8, 64), {0.3, 4}).ok());
  auto again = kernel_named(kSource, "small:prune|>quant");  // the same structure, new nodes
  again.kernel.name = "renamed";
  REQUIRE(jit->run(again, view(w, 8, 64), {0.5, 8}).ok());
  // The kernel's code, and its pre-pass, which the native scan runs on large tensors only:
  // each compiled once.
  CHECK(jit->stats().compiled == 2);
  CHECK(jit->stats().memory_hits == 2);
  REQUIRE(jit->compile(kernel_named(kSource, "quantize")).ok());
  CHECK(jit->stats().compiled == 3);
  CHECK(dir.files().empty());  // no disk cache configured: nothing written
}

TEST_CASE("a second JIT with the same cache directory compiles nothing and gives the same results") {
  TempDir dir;
  auto kernel = kernel_named(kSource, "small:prune|>quant");
  auto w = random_weights(12 * 96, 9, true);
  auto first = make_jit(dir.path);
  auto a = first->run(kernel, view(w, 12, 96), {0.5, 4}, 2);
  REQUIRE(a.ok());
  CHECK(first->stats().compiled == 2);  // the kernel's code and its pre-pass (no native scan here)
  CHECK(first->stats().disk_writes == 2);
  CHECK(dir.files().size() == 2);

  auto second = make_jit(dir.path);
  auto b = second->run(kernel, view(w, 12, 96), {0.5, 4}, 1);
  CHECK(second->stats().compiled == 0);
  CHECK(second->stats().disk_hits == 2);
  identical(a, b);
  agree(a, b);
}

TEST_CASE("a pre-pass that the native scan runs is compiled only for the runs that need it") {
  TempDir dir;
  auto kernel = kernel_named(kSource, "rows:prune|>quant_rows");
  auto w = random_weights(512 * 256, 13, true);  // sampled bracket: the native scan's case
  auto input = view(w, 512, 256);
  auto reference = interp::run(kernel.kernel, input, {0.5, 8});
  auto jit = make_jit(dir.path);
  REQUIRE(jit->compile(kernel).ok());
  CHECK(jit->stats().compiled == 1);
  CHECK(dir.files().size() == 1);
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt")) {
    agree(reference, jit->run(kernel, input, {0.5, 8}, 2));
    CHECK(jit->stats().compiled == 1);  // the native scan ran
  }
#endif
  {
    codegen::testing::ScanWidthOverride portable(4);  // no native scan: the sweep runs
    agree(reference, jit->run(kernel, input, {0.5, 8}, 2));
    CHECK(jit->stats().compiled == 2);
    CHECK(dir.files().size() == 2);
    agree(reference, jit->run(kernel, input, {0.5, 8}, 1));
    CHECK(jit->stats().compiled == 2);
    auto next = make_jit(dir.path);  // both from the disk cache
    agree(reference, next->run(kernel, input, {0.5, 8}, 2));
    CHECK(next->stats().compiled == 0);
    CHECK(next->stats().disk_hits == 2);
  }
}

TEST_CASE("a damaged or foreign cache file is ignored and rewritten, never loaded") {
  TempDir dir;
  auto kernel = kernel_named(kSource, "quantize");
  auto w = random_weights(4 * 40, 2, false);
  auto reference = make_jit(dir.path)->run(kernel, view(w, 4, 40), {8, 0});
  REQUIRE(reference.ok());
  REQUIRE(dir.files().size() == 1);
  std::string file = dir.files().front();
  std::string original;
  {
    std::ifstream in(file, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto damage = [&](const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  };
  std::string flipped = original;
  flipped[flipped.size() - 100] ^= 0x5a;  // inside the object: the checksum catches it
  std::string foreign = original;
  foreign[20] ^= 0x01;                    // inside the key: another kernel's or CPU's file
  for (const std::string& bytes : {std::string(), std::string("garbage"), original.substr(0, original.size() / 2),
                                   flipped, foreign, std::string(1 << 16, '\xff')}) {
    damage(bytes);
    auto jit = make_jit(dir.path);
    auto out = jit->run(kernel, view(w, 4, 40), {8, 0});
    CHECK(jit->stats().disk_rejected == 1);
    CHECK(jit->stats().compiled == 1);
    CHECK(jit->stats().disk_writes == 1);
    identical(reference, out);
    auto next = make_jit(dir.path);  // rewritten: loads again
    REQUIRE(next->compile(kernel).ok());
    CHECK(next->stats().disk_hits == 1);
    CHECK(next->stats().compiled == 0);
  }
}

TEST_CASE("the cache directory: KMR_CACHE_DIR, else XDG_CACHE_HOME/kmr, else ~/.cache/kmr") {
  auto saved = [](const char* name) -> std::pair<bool, std::string> {
    const char* v = std::getenv(name);
    return {v != nullptr, v ? v : ""};
  };
  auto kmr = saved("KMR_CACHE_DIR"), xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
  setenv("KMR_CACHE_DIR", "/tmp/a", 1);
  setenv("XDG_CACHE_HOME", "/tmp/b", 1);
  setenv("HOME", "/tmp/c", 1);
  CHECK(codegen::default_cache_dir() == "/tmp/a");
  unsetenv("KMR_CACHE_DIR");
  CHECK(codegen::default_cache_dir() == "/tmp/b/kmr");
  unsetenv("XDG_CACHE_HOME");
  CHECK(codegen::default_cache_dir() == "/tmp/c/.cache/kmr");
  auto restore = [](const char* name, const std::pair<bool, std::string>& v) {
    if (v.first) setenv(name, v.second.c_str(), 1);
    else unsetenv(name);
  };
  restore("KMR_CACHE_DIR", kmr);
  restore("XDG_CACHE_HOME", xdg);
  restore("HOME", home);
}

}  // namespace
}  // namespace kmr::test
