// SPDX-License-Identifier: Apache-2.0
// The self-contained HTML report (include/triptych/report/export.hpp): one file
// with uPlot (from TRIPTYCH_UPLOT_DIR), the page script src/report/assets/report.js
// and the run's data inlined, so it opens from file:// with no network. The
// assets are embedded into the report layer at configure time by
// cmake/TriptychReport.cmake; without them (no `make deps`) the
// writer reports kUnsupported. Single-threaded, allocating. docs/tracing.md.
#include <string_view>

#include "triptych/core/json_writer.hpp"
#include "triptych/report/export.hpp"

#if __has_include("triptych_report/assets.hpp")
#include "triptych_report/assets.hpp"
#define TRIPTYCH_HAVE_REPORT_ASSETS 1
#else
#define TRIPTYCH_HAVE_REPORT_ASSETS 0
#endif

namespace triptych::report {
namespace {

#if TRIPTYCH_HAVE_REPORT_ASSETS
void write_asset(std::ostream& os, const unsigned char* bytes, std::size_t n) {
  os.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(n));
}
#endif

void html_text(std::ostream& os, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '<':
        os << "&lt;";
        break;
      case '>':
        os << "&gt;";
        break;
      case '&':
        os << "&amp;";
        break;
      case '"':
        os << "&quot;";
        break;
      default:
        os << c;
    }
  }
}

// Per-frame columns of the complete frames, in milliseconds, for the plots.
void write_series(const TraceReport& r, JsonWriter& w) {
  std::vector<const trace::FrameSnapshot*> done;
  for (std::size_t i = 0; i < r.frames.size(); ++i)
    if (r.verdicts[i] == FrameVerdict::kComplete) done.push_back(&r.frames[i]);
  const std::uint64_t t0 = r.stats.first_ns;
  const auto column = [&](std::string_view name, auto&& value) {
    w.key(name);
    w.begin_array();
    for (std::size_t i = 0; i < done.size(); ++i) value(i, *done[i]);
    w.end_array();
  };
  w.begin_object();
  column("frame", [&](std::size_t, const trace::FrameSnapshot& f) { w.value(f.frame); });
  column("t_s", [&](std::size_t, const trace::FrameSnapshot& f) {
    w.fixed(static_cast<double>(f.at(trace::Stage::kPresented) - t0) / 1e9, 6);
  });
  column("interval_ms", [&](std::size_t i, const trace::FrameSnapshot& f) {
    const std::uint64_t now = f.at(trace::Stage::kPresented);
    const std::uint64_t prev = i == 0 ? 0 : done[i - 1]->at(trace::Stage::kPresented);
    if (i == 0 || now <= prev) {
      w.null();
    } else {
      w.fixed(static_cast<double>(now - prev) / 1e6, 4);
    }
  });
  for (std::size_t s = 0; s <= static_cast<std::size_t>(Segment::kLatency); ++s) {
    const auto seg = static_cast<Segment>(s);
    column(std::string(segment_name(seg)) + "_ms", [&](std::size_t, const trace::FrameSnapshot& f) {
      w.fixed(static_cast<double>(segment_ns(f, seg)) / 1e6, 4);
    });
  }
  w.end_object();
}

}  // namespace

bool html_report_available() noexcept {
  return TRIPTYCH_HAVE_REPORT_ASSETS != 0;
}

Result<void> write_html_report(const TraceReport& r, std::ostream& os) {
#if TRIPTYCH_HAVE_REPORT_ASSETS
  os << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  html_text(os, r.title);
  os << "</title>\n<style>\n";
  write_asset(os, assets::kUplotCss, sizeof(assets::kUplotCss));
  os << "\n</style>\n<style>\n";
  write_asset(os, assets::kReportCss, sizeof(assets::kReportCss));
  os << "\n</style>\n</head>\n<body>\n<div id=\"app\"></div>\n<script>\n";
  write_asset(os, assets::kUplotJs, sizeof(assets::kUplotJs));
  // The JSON writer escapes '<', so the data can never close this element early.
  os << "\n</script>\n<script id=\"triptych-data\" type=\"application/json\">";
  JsonWriter w(os);
  w.begin_object();
  w.key("stats");
  w.nested([&](std::ostream& out) { write_stats_json(r, out); });
  w.key("series");
  write_series(r, w);
  w.end_object();
  os << "</script>\n<script>\n";
  write_asset(os, assets::kReportJs, sizeof(assets::kReportJs));
  os << "\n</script>\n</body>\n</html>\n";
  if (!os) return make_error(Errc::kSystem, "writing the HTML report failed");
  return {};
#else
  (void)r;
  (void)os;
  (void)html_text;
  (void)write_series;
  return make_error(Errc::kUnsupported,
                    "this build has no uPlot to inline: run `make deps`, then rebuild");
#endif
}

}  // namespace triptych::report
