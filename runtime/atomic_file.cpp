// Temporary file, fsync and rename: the POSIX recipe for replacing a file atomically.
#include "runtime/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace kmr::runtime {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

// Unique among threads and processes: pid plus a per-process counter.
std::string temp_name_for(const std::string& dir, const std::string& base) {
  static std::atomic<unsigned> counter{0};
  return (fs::path(dir) /
          ("." + base + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1))))
      .string();
}

bool proc_fd_available() { return ::access("/proc/self/fd", X_OK) == 0; }

}  // namespace

kmr::Expected<AtomicFile> AtomicFile::create(const std::string& target, bool unnamed_if_possible) {
  AtomicFile file;
  file.target_ = target;
  const fs::path target_path(target);
  if (target_path.filename().empty()) return kmr::Error{target + ": not a file path"};
  file.dir_ = target_path.has_parent_path() ? target_path.parent_path().string() : std::string(".");

  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return kmr::Error{target + ": is a directory"};
  }
  if (::stat(file.dir_.c_str(), &st) != 0) {
    return kmr::Error{target + ": cannot write into directory " + file.dir_ + ": " + errno_text()};
  }
  if (!S_ISDIR(st.st_mode)) return kmr::Error{target + ": " + file.dir_ + " is not a directory"};

  if (unnamed_if_possible && proc_fd_available()) {
    file.fd_ = ::open(file.dir_.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  }
  if (file.fd_ < 0) {
    // No O_TMPFILE here (old kernel, some filesystems): fall back to a named temporary.
    const std::string base = target_path.filename().string();
    for (int attempt = 0; attempt < 100 && file.fd_ < 0; ++attempt) {
      file.temp_path_ = temp_name_for(file.dir_, base);
      file.fd_ = ::open(file.temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (file.fd_ < 0 && errno != EEXIST) break;
    }
    if (file.fd_ < 0) {
      const std::string why = errno_text();
      file.temp_path_.clear();
      return kmr::Error{target + ": cannot create a temporary file in " + file.dir_ + ": " + why};
    }
  }
  return file;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept { *this = std::move(other); }

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    target_ = std::move(other.target_);
    dir_ = std::move(other.dir_);
    temp_path_ = std::exchange(other.temp_path_, std::string());
    fd_ = std::exchange(other.fd_, -1);
    committed_ = other.committed_;
  }
  return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

kmr::Status AtomicFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) return kmr::Error{target_ + ": write after the file was closed"};
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = errno_text();
      discard();
      return kmr::Error{target_ + ": write failed: " + why};
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return kmr::Status::success();
}

kmr::Status AtomicFile::give_name() {
  // linkat through /proc gives the O_TMPFILE inode a name without extra privileges.
  const std::string proc_path = "/proc/self/fd/" + std::to_string(fd_);
  const std::string base = fs::path(target_).filename().string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string candidate = temp_name_for(dir_, base);
    if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, candidate.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      temp_path_ = std::move(candidate);
      return kmr::Status::success();
    }
    if (errno != EEXIST) break;
  }
  return kmr::Error{target_ + ": cannot name the temporary file: " + errno_text()};
}

kmr::Status AtomicFile::commit() {
  if (fd_ < 0 || committed_) return kmr::Error{target_ + ": commit on a closed file"};
  auto fail = [this](const std::string& what) {
    const std::string message = target_ + ": " + what + ": " + errno_text();
    discard();
    return kmr::Status(kmr::Error{message});
  };
  // Keep the permissions of the file being replaced.
  struct stat st;
  if (::stat(target_.c_str(), &st) == 0) (void)::fchmod(fd_, st.st_mode & 07777);
  if (::fsync(fd_) != 0) return fail("fsync failed");
  if (temp_path_.empty()) {
    kmr::Status named = give_name();
    if (!named) {
      discard();
      return named;
    }
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return fail("close failed");
  if (::rename(temp_path_.c_str(), target_.c_str()) != 0) return fail("cannot rename the temporary file over it");
  committed_ = true;
  temp_path_.clear();
  // Persist the rename itself. The new file is already in place, so a directory that
  // cannot be fsynced (some filesystems refuse) is not reported as a failed save.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return kmr::Status::success();
}

}  // namespace kmr::runtime
