// Failed, cancelled and killed saves leave the previous file intact and no temporary behind.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/atomic_file.h"
#include "runtime/safetensors_reader.h"
#include "runtime/safetensors_writer.h"
#include "test_support.h"

namespace rt = kmr::runtime;

namespace {

// A payload big enough to need several writer chunks (8 MiB each).
const std::string& big_payload() {
  static const std::string bytes = rt::testing::pattern_bytes(24u << 20, 7);
  return bytes;
}

std::vector<rt::TensorToWrite> big_tensors() {
  const std::string& b = big_payload();
  return {{"big",
           rt::DType::U8,
           {static_cast<std::int64_t>(b.size())},
           {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()}}};
}

// The file a save may replace: a valid checkpoint whose bytes the test remembers.
std::string write_old(const rt::testing::TempDir& dir) {
  const std::string path = dir.file("model.safetensors");
  const std::string old_data(16, '\x42');
  REQUIRE(rt::write_safetensors(
              path,
              {{"old", rt::DType::F32, {4}, {reinterpret_cast<const std::uint8_t*>(old_data.data()), old_data.size()}}},
              {{"v", "old"}})
              .ok());
  return rt::testing::read_file(path);
}

void check_old_intact(const rt::testing::TempDir& dir, const std::string& old_bytes) {
  CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
  CHECK(rt::testing::read_file(dir.file("model.safetensors")) == old_bytes);
  kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(dir.file("model.safetensors"));
  REQUIRE(file.ok());
  CHECK(file->metadata().at("v") == "old");
}

}  // namespace

TEST_SUITE("atomic_write") {
  TEST_CASE("a successful save replaces the old file and leaves nothing else") {
    rt::testing::TempDir dir;
    write_old(dir);
    REQUIRE(rt::write_safetensors(dir.file("model.safetensors"), big_tensors(), {{"v", "new"}}).ok());
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
    kmr::Expected<rt::SafetensorsFile> file = rt::SafetensorsFile::open(dir.file("model.safetensors"));
    REQUIRE(file.ok());
    CHECK(file->metadata().at("v") == "new");
  }

  TEST_CASE("a save cancelled half-way keeps the old file and removes the temporary") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    int calls = 0;
    rt::WriteOptions options;
    options.on_progress = [&](std::uint64_t written, std::uint64_t total) -> kmr::Status {
      ++calls;
      if (written >= total / 2) return kmr::Error{"simulated failure"};
      return kmr::Status::success();
    };
    kmr::Status s = rt::write_safetensors(dir.file("model.safetensors"), big_tensors(), {{"v", "new"}}, options);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message == dir.file("model.safetensors") + ": save cancelled: simulated failure");
    CHECK(calls >= 1);
    check_old_intact(dir, old_bytes);
  }

  TEST_CASE("a write that fails with a real I/O error (file size limit) keeps the old file") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    // RLIMIT_FSIZE makes write() fail with EFBIG part-way, even for root; SIGXFSZ would kill us.
    struct rlimit saved;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct rlimit limited = saved;
    limited.rlim_cur = 1u << 20;
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
    kmr::Status s = rt::write_safetensors(dir.file("model.safetensors"), big_tensors(), {{"v", "new"}});
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::signal(SIGXFSZ, old_handler);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find(dir.file("model.safetensors") + ": write failed: File too large") == 0);
    check_old_intact(dir, old_bytes);
  }

  TEST_CASE("a save killed half-way leaves the old file and no temporary file") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(ready[0]);
      rt::WriteOptions options;
      options.on_progress = [&](std::uint64_t, std::uint64_t) -> kmr::Status {
        const char byte = 1;
        (void)::write(ready[1], &byte, 1);
        ::pause();  // wait, mid-save, for the parent's SIGKILL
        return kmr::Status::success();
      };
      (void)rt::write_safetensors(dir.file("model.safetensors"), big_tensors(), {{"v", "new"}}, options);
      ::_exit(3);
    }
    ::close(ready[1]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);  // the child has written its first chunk
    ::close(ready[0]);
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    check_old_intact(dir, old_bytes);
  }

  TEST_CASE("saves into a missing directory or onto a directory fail without side effects") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    kmr::Status missing = rt::write_safetensors(dir.file("no/such/dir/model.safetensors"), big_tensors(), {});
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find(dir.file("no/such/dir/model.safetensors") + ": cannot write into directory") ==
          0);
    CHECK(missing.error().message.find("No such file or directory") != std::string::npos);

    const std::string sub = dir.file("sub");
    REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
    kmr::Status onto_dir = rt::write_safetensors(sub, big_tensors(), {});
    REQUIRE_FALSE(onto_dir.ok());
    CHECK(onto_dir.error().message == sub + ": is a directory");
    REQUIRE(::rmdir(sub.c_str()) == 0);
    check_old_intact(dir, old_bytes);
  }

  TEST_CASE("an AtomicFile dropped without commit leaves no trace") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    {
      kmr::Expected<rt::AtomicFile> file = rt::AtomicFile::create(dir.file("model.safetensors"));
      REQUIRE(file.ok());
      REQUIRE(file->write("partial", 7).ok());
    }
    check_old_intact(dir, old_bytes);
    kmr::Expected<rt::AtomicFile> file = rt::AtomicFile::create(dir.file("fresh.bin"));
    REQUIRE(file.ok());
    REQUIRE(file->write("abc", 3).ok());
    REQUIRE(file->commit().ok());
    CHECK(rt::testing::read_file(dir.file("fresh.bin")) == "abc");
    CHECK_FALSE(file->commit().ok());
  }

  TEST_CASE("the named-temporary fallback also cleans up after failures and commits atomically") {
    rt::testing::TempDir dir;
    const std::string old_bytes = write_old(dir);
    {
      kmr::Expected<rt::AtomicFile> file = rt::AtomicFile::create(dir.file("model.safetensors"), false);
      REQUIRE(file.ok());
      REQUIRE(file->write("partial", 7).ok());
      CHECK(dir.entries().size() == 2);  // the named temporary is visible while writing
    }
    check_old_intact(dir, old_bytes);
    kmr::Expected<rt::AtomicFile> file = rt::AtomicFile::create(dir.file("model.safetensors"), false);
    REQUIRE(file.ok());
    REQUIRE(file->write("new", 3).ok());
    REQUIRE(file->commit().ok());
    CHECK(dir.entries() == std::vector<std::string>{"model.safetensors"});
    CHECK(rt::testing::read_file(dir.file("model.safetensors")) == "new");
  }
}
