// SPDX-License-Identifier: Apache-2.0
// A probe TU for check_symbols.cmake: every trace macro, compiled with
// TRIPTYCH_TRACE forced to TRIPTYCH_PROBE_TRACE. Never run, only inspected;
// its signature avoids trace types so that only the macros can name them.
#undef TRIPTYCH_TRACE
#define TRIPTYCH_TRACE TRIPTYCH_PROBE_TRACE
#include "triptych/trace/trace.hpp"

int triptych_trace_macro_probe(void* table, int x);
int triptych_trace_macro_probe(void* table, int x) {
  (void)table;  // used only by the macros, which may be compiled out
  TRIPTYCH_THREAD_NAME("probe");
  TRIPTYCH_SPAN("probe span");
  TRIPTYCH_STAMP(*static_cast<triptych::trace::FrameTraceTable*>(table),
                 static_cast<std::uint64_t>(x), triptych::trace::Stage::kComputeStart);
  return x + 1;
}
