// SPDX-License-Identifier: Apache-2.0
// With TRIPTYCH_TRACE 0 the macros are ((void)0): their arguments are not
// evaluated, nothing is stamped and no span is recorded. libtriptych defines
// TRIPTYCH_TRACE publicly, so this TU redefines it before any include.
// (check_symbols.cmake checks the object code itself.)
#undef TRIPTYCH_TRACE
#define TRIPTYCH_TRACE 0
#include <gtest/gtest.h>

#include <cstdlib>
#include <type_traits>

#include "triptych/trace/trace.hpp"

namespace triptych::trace {
namespace {

int g_evaluated = 0;
std::uint64_t counted(std::uint64_t v) {
  ++g_evaluated;
  return v;
}

TEST(Trace, Macros_CompileOutWhenTraceIsZero) {
  const std::size_t bytes = FrameTraceTable::required_bytes(4);
  void* mem = std::aligned_alloc(64, bytes);
  ASSERT_NE(mem, nullptr);
  auto t = FrameTraceTable::create(mem, bytes, 4);
  ASSERT_TRUE(t.ok());
  const std::uint64_t f = t->begin_frame(now_ns());
  (void)collect_threads();
  set_enabled(true);  // the runtime switch is on: only the compile-time one is off

  TRIPTYCH_STAMP(t.value(), counted(f), Stage::kComputeStart);
  TRIPTYCH_THREAD_NAME("never named");
  {
    TRIPTYCH_SPAN("compiled out");
    counted(0);
  }
  static_assert(std::is_void_v<decltype(TRIPTYCH_STAMP(t.value(), counted(f), Stage::kQueued))>);

  EXPECT_EQ(g_evaluated, 1);  // only the explicit call inside the span's scope
  FrameSnapshot s;
  ASSERT_EQ(t->try_read(f, s), ReadStatus::kOk);
  EXPECT_EQ(s.at(Stage::kComputeStart), 0u);
  for (const auto& th : collect_threads()) {
    EXPECT_NE(th.name, "never named");
    EXPECT_TRUE(th.events.empty());
  }
  std::free(mem);
}

}  // namespace
}  // namespace triptych::trace
