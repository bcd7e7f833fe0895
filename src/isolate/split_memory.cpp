// SPDX-License-Identifier: Apache-2.0
// H and C memfds, sealed and mapped back to back: see
// include/triptych/isolate/split_memory.hpp.
#include "triptych/isolate/split_memory.hpp"

#include "os_calls.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace triptych::isolate {

using detail::system_error;
namespace {

constexpr int kSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
constexpr int kHostSeals = kSizeSeals | F_SEAL_FUTURE_WRITE;

Result<UniqueFd> make_memfd(const char* name, std::size_t bytes) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return system_error(std::string("memfd_create ") + name);
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return system_error(std::string("ftruncate ") + name);
  return fd;
}

// Reserves host + child bytes of address space, then maps each fd over its part.
Result<std::byte*> map_back_to_back(int host_fd, int host_prot, std::size_t host_bytes, int child_fd,
                                    std::size_t child_bytes) {
  void* base = ::mmap(nullptr, host_bytes + child_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return system_error("reserving the split memory's address range");
  auto* b = static_cast<std::byte*>(base);
  if (::mmap(b, host_bytes, host_prot, MAP_SHARED | MAP_FIXED, host_fd, 0) == MAP_FAILED ||
      ::mmap(b + host_bytes, child_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, child_fd, 0) ==
          MAP_FAILED) {
    const Error e = system_error("mapping the split memory");
    ::munmap(base, host_bytes + child_bytes);
    return e;
  }
  return b;
}

Result<void> check_fd(int fd, const char* which, int seals_needed, std::size_t bytes) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return make_error(Errc::kNotSealed, std::string(which) + " cannot report seals (not a memfd?)");
  if ((seals & seals_needed) != seals_needed) {
    return make_error(Errc::kNotSealed, std::string(which) + " lacks seals: has " + std::to_string(seals) +
                                            ", needs " + std::to_string(seals_needed));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return system_error(std::string("fstat ") + which);
  if (static_cast<std::size_t>(st.st_size) != bytes) {
    return make_error(Errc::kCorruptHeader, std::string(which) + " holds " + std::to_string(st.st_size) +
                                                " bytes, not the " + std::to_string(bytes) + " agreed");
  }
  return {};
}

Result<void> check_sizes(std::size_t host_bytes, std::size_t child_bytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  if (host_bytes == 0 || child_bytes == 0 || host_bytes % page != 0 || child_bytes % page != 0) {
    return make_error(Errc::kInvalidArgument, "split memory sizes must be non-zero multiples of the page size, got " +
                                                  std::to_string(host_bytes) + " and " + std::to_string(child_bytes));
  }
  return {};
}

}  // namespace

Result<SplitMemory> SplitMemory::create(std::size_t host_bytes, std::size_t child_bytes) {
  if (auto ok = check_sizes(host_bytes, child_bytes); !ok) return ok.error();
  auto h = make_memfd("triptych-H", host_bytes);
  if (!h) return h.error();
  auto c = make_memfd("triptych-C", child_bytes);
  if (!c) return c.error();
  if (::fcntl(c.value().get(), F_ADD_SEALS, kSizeSeals) != 0) return system_error("sealing C");
  auto base = map_back_to_back(h.value().get(), PROT_READ | PROT_WRITE, host_bytes, c.value().get(), child_bytes);
  if (!base) return base.error();
  SplitMemory m;
  m.base_ = base.value();
  m.host_bytes_ = host_bytes;
  m.child_bytes_ = child_bytes;
  m.host_fd_ = std::move(h).value();
  m.child_fd_ = std::move(c).value();
  return m;
}

Result<SplitMemory> SplitMemory::attach(int host_fd, int child_fd, std::size_t host_bytes, std::size_t child_bytes) {
  if (auto ok = check_sizes(host_bytes, child_bytes); !ok) return ok.error();
  if (auto ok = check_fd(host_fd, "H", kHostSeals, host_bytes); !ok) return ok.error();
  if (auto ok = check_fd(child_fd, "C", kSizeSeals, child_bytes); !ok) return ok.error();
  auto base = map_back_to_back(host_fd, PROT_READ, host_bytes, child_fd, child_bytes);
  if (!base) return base.error();
  SplitMemory m;
  m.base_ = base.value();
  m.host_bytes_ = host_bytes;
  m.child_bytes_ = child_bytes;
  m.host_fd_ = UniqueFd(host_fd);
  m.child_fd_ = UniqueFd(child_fd);
  return m;
}

SplitMemory::SplitMemory(SplitMemory&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      host_bytes_(std::exchange(other.host_bytes_, 0)),
      child_bytes_(std::exchange(other.child_bytes_, 0)),
      host_fd_(std::move(other.host_fd_)),
      child_fd_(std::move(other.child_fd_)) {}

SplitMemory& SplitMemory::operator=(SplitMemory&& other) noexcept {
  if (this != &other) {
    unmap();
    base_ = std::exchange(other.base_, nullptr);
    host_bytes_ = std::exchange(other.host_bytes_, 0);
    child_bytes_ = std::exchange(other.child_bytes_, 0);
    host_fd_ = std::move(other.host_fd_);
    child_fd_ = std::move(other.child_fd_);
  }
  return *this;
}

SplitMemory::~SplitMemory() { unmap(); }

void SplitMemory::unmap() noexcept {
  if (base_ != nullptr) ::munmap(base_, host_bytes_ + child_bytes_);
  base_ = nullptr;
}

Result<void> SplitMemory::seal_host() {
  if (::fcntl(host_fd_.get(), F_ADD_SEALS, kHostSeals) != 0) return system_error("sealing H");
  return {};
}

}  // namespace triptych::isolate
