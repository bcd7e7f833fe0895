// SPDX-License-Identifier: Apache-2.0
// HostZone (host_zone.hpp): mmap-backed page-aligned zones for tests,
// benchmarks and tools. Creation and destruction are single-threaded.
// See docs/render-stage.md.
#include "support/host_zone.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "triptych/core/config.hpp"

namespace triptych::test {

Result<HostZone> HostZone::create(std::size_t bytes, Backing backing) {
  if (bytes == 0) return make_error(Errc::kInvalidArgument, "a zone needs at least one byte");
  const std::size_t size = align_up(bytes, kPageSize);
  void* p = MAP_FAILED;
  if (backing == Backing::kAnonymous) {
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    const int fd = memfd_create("triptych-zone", MFD_CLOEXEC);
    if (fd < 0) return make_error(Errc::kSystem, std::string("memfd_create: ") + std::strerror(errno));
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      const int e = errno;
      close(fd);
      return make_error(Errc::kSystem, std::string("ftruncate: ") + std::strerror(e));
    }
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
  }
  if (p == MAP_FAILED) return make_error(Errc::kSystem, std::string("mmap: ") + std::strerror(errno));
  HostZone z;
  z.base_ = static_cast<std::byte*>(p);
  z.size_ = size;
  return z;
}

HostZone::HostZone(HostZone&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

HostZone& HostZone::operator=(HostZone&& o) noexcept {
  if (this != &o) {
    if (base_ != nullptr) munmap(base_, size_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

HostZone::~HostZone() {
  if (base_ != nullptr) munmap(base_, size_);
}

}  // namespace triptych::test
