// POSIX mmap behind MappedFile.
#include "runtime/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace kmr::runtime {
namespace {

kmr::Error errno_error(const std::string& path, const char* what) {
  return kmr::Error{path + ": " + what + ": " + std::strerror(errno)};
}

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

kmr::Expected<MappedFile> MappedFile::open(const std::string& path) {
  MappedFile file;
  file.path_ = path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore the flag.
  file.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (file.fd_ < 0) return errno_error(path, "cannot open");
  struct stat st;
  if (::fstat(file.fd_, &st) != 0) return errno_error(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) return kmr::Error{path + ": not a regular file"};
  file.size_ = static_cast<std::size_t>(st.st_size);
  file.mtime_ns_ = mtime_ns(st);
  if (file.size_ > 0) {
    void* mapping = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, file.fd_, 0);
    if (mapping == MAP_FAILED) return errno_error(path, "cannot memory-map");
    file.data_ = static_cast<const std::uint8_t*>(mapping);
  }
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mtime_ns_ = other.mtime_ns_;
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  fd_ = -1;
}

kmr::Status MappedFile::check_unchanged() const {
  struct stat st;
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return errno_error(path_, "cannot stat");
  if (static_cast<std::size_t>(st.st_size) != size_) {
    return kmr::Error{path_ + ": file changed size while in use (was " + std::to_string(size_) + " bytes, now " +
                      std::to_string(st.st_size) + ")"};
  }
  if (mtime_ns(st) != mtime_ns_) return kmr::Error{path_ + ": file was modified while in use"};
  return kmr::Status::success();
}

}  // namespace kmr::runtime
