// SPDX-License-Identifier: Apache-2.0
// The instrumentation macros. With TRIPTYCH_TRACE 0 (a CMake cache option,
// defined publicly by libtriptych) each one is ((void)0): no code, no symbol,
// and its arguments are not evaluated. With 1 they check the runtime switch
// (one relaxed load) and then stamp or time a span; the enabled cost is
// measured by bench/trace and stated in docs/tracing.md. Arguments must have no
// side effects, since they vanish when tracing is compiled out. Any thread.
#pragma once

#include "triptych/trace/clock.hpp"
#include "triptych/trace/frame_trace.hpp"
#include "triptych/trace/spans.hpp"

#define TRIPTYCH_TRACE_CAT2_(a, b) a##b
#define TRIPTYCH_TRACE_CAT_(a, b) TRIPTYCH_TRACE_CAT2_(a, b)

#if TRIPTYCH_TRACE

// TRIPTYCH_STAMP(table, frame, stage): stamps `stage` of `frame` in a
// FrameTraceTable with now_ns(), if tracing is switched on.
#define TRIPTYCH_STAMP(table, frame, stage)                                              \
  (::triptych::trace::enabled()                                                          \
       ? static_cast<void>((table).stamp((frame), (stage), ::triptych::trace::now_ns())) \
       : static_cast<void>(0))

// TRIPTYCH_SPAN("name"): times the rest of the enclosing scope as a named span.
#define TRIPTYCH_SPAN(name)                                                           \
  static constexpr ::triptych::trace::SourceLocation TRIPTYCH_TRACE_CAT_(             \
      triptych_span_loc_, __LINE__){name, __func__, __FILE__,                         \
                                    static_cast<std::uint32_t>(__LINE__)};            \
  const ::triptych::trace::ScopedSpan TRIPTYCH_TRACE_CAT_(triptych_span_, __LINE__) { \
    &TRIPTYCH_TRACE_CAT_(triptych_span_loc_, __LINE__)                                \
  }

// TRIPTYCH_THREAD_NAME("compute 0"): names the calling thread in traces.
#define TRIPTYCH_THREAD_NAME(name) ::triptych::trace::set_thread_name(name)

#else

#define TRIPTYCH_STAMP(table, frame, stage) ((void)0)
#define TRIPTYCH_SPAN(name) ((void)0)
#define TRIPTYCH_THREAD_NAME(name) ((void)0)

#endif
