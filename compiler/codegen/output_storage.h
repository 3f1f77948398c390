// Storage for a kernel's output tensor (codes or values) that the run allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kmr::codegen {

/// Resizes `v` to n elements. Storage that has to grow is first reserved (untouched) and
/// advised for transparent huge pages, so that zeroing it faults in 2 MB pages: the
/// output of a large tensor is written row after row and then, after a global quantile,
/// fixed at units scattered over every row, each a page walk with 4 KB pages (in a VM, a
/// nested one). Storage that already suffices, the caller's, is left as it is.
template <class T>
void resize_output(std::vector<T>& v, size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kPage = 4096;
  if (v.capacity() < n) {
    v.clear();
    v.shrink_to_fit();
    v.reserve(n);
    auto begin = (reinterpret_cast<uintptr_t>(v.data()) + kPage - 1) & ~(kPage - 1);
    auto end = (reinterpret_cast<uintptr_t>(v.data() + n)) & ~(kPage - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice: failure is harmless
  }
#endif
  v.resize(n);
}

}  // namespace kmr::codegen
