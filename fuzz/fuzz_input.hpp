// SPDX-License-Identifier: Apache-2.0
// What every libFuzzer target here shares: a trap on a failed check (the
// fuzzer reports it as a crash with its input), and a reader of the input as
// a program, which yields zeros once the bytes run out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace triptych::fuzz {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    const std::size_t k = n < 4 ? n : 4;
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

}  // namespace triptych::fuzz
