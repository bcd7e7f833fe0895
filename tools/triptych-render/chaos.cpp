// SPDX-License-Identifier: Apache-2.0
// --hostile's chaos: see chaos.hpp.
#include "chaos.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdint>

namespace triptych::render_process {

bool punch_hole(int memfd, std::span<const std::byte> memory, std::span<const std::byte> range) noexcept {
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const auto from = static_cast<std::uint64_t>(range.data() - memory.data());
  const std::uint64_t first = (from + page - 1) / page * page;
  const std::uint64_t last = (from + range.size()) / page * page;
  if (last <= first) return true;  // no whole page inside: nothing to punch
  return ::fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(first),
                     static_cast<off_t>(last - first)) == 0;
}

void storm_futex_wakes(std::span<void* const> words, int rounds) noexcept {
  for (int i = 0; i < rounds; ++i) {
    for (void* word : words) (void)::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

}  // namespace triptych::render_process
