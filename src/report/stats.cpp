// SPDX-License-Identifier: Apache-2.0
// FrameAnalyzer (include/triptych/report/stats.hpp): validates snapshots,
// classifies frames and fills one LogLinearHistogram per segment.
// Single-threaded; allocates. Definitions in docs/tracing.md ("Statistics").
#include "triptych/report/stats.hpp"

#include <algorithm>
#include <unordered_map>

namespace triptych::report {

std::string_view segment_name(Segment s) noexcept {
  switch (s) {
    case Segment::kQueueWait:
      return "queue_wait";
    case Segment::kCompute:
      return "compute";
    case Segment::kHandoff:
      return "handoff";
    case Segment::kRender:
      return "render";
    case Segment::kPresent:
      return "present";
    case Segment::kLatency:
      return "latency";
    case Segment::kInterval:
      return "interval";
  }
  return "unknown";
}

std::string_view verdict_name(FrameVerdict v) noexcept {
  switch (v) {
    case FrameVerdict::kComplete:
      return "complete";
    case FrameVerdict::kDropped:
      return "dropped";
    case FrameVerdict::kFailed:
      return "failed";
    case FrameVerdict::kInFlight:
      return "in_flight";
    case FrameVerdict::kInvalid:
      return "invalid";
  }
  return "unknown";
}

std::uint64_t segment_ns(const trace::FrameSnapshot& s, Segment seg) noexcept {
  const auto d = [&](trace::Stage a, trace::Stage b) { return s.at(b) >= s.at(a) ? s.at(b) - s.at(a) : 0; };
  switch (seg) {
    case Segment::kQueueWait:
      return d(trace::Stage::kQueued, trace::Stage::kComputeStart);
    case Segment::kCompute:
      return d(trace::Stage::kComputeStart, trace::Stage::kComputeEnd);
    case Segment::kHandoff:
      return d(trace::Stage::kComputeEnd, trace::Stage::kRenderStart);
    case Segment::kRender:
      return d(trace::Stage::kRenderStart, trace::Stage::kRenderEnd);
    case Segment::kPresent:
      return d(trace::Stage::kRenderEnd, trace::Stage::kPresented);
    case Segment::kLatency:
      return d(trace::Stage::kQueued, trace::Stage::kPresented);
    case Segment::kInterval:
      return 0;
  }
  return 0;
}

DurationStats summarize(const LogLinearHistogram& h) noexcept {
  DurationStats d;
  d.count = h.count();
  d.mean_ns = h.mean();
  d.stddev_ns = h.stddev();
  d.min_ns = h.min();
  d.p50_ns = h.percentile(50.0);
  d.p90_ns = h.percentile(90.0);
  d.p99_ns = h.percentile(99.0);
  d.p999_ns = h.percentile(99.9);
  d.max_ns = h.max();
  return d;
}

namespace {

enum class Invalid { kNone, kOutOfOrder, kFuture, kUnissued, kDuplicateId };

}  // namespace

struct FrameAnalyzer::Impl {
  AnalyzerOptions options;
  struct Entry {
    trace::FrameSnapshot snap;
    bool complete;
    Invalid invalid;
  };
  std::vector<Entry> entries;
  std::unordered_map<std::uint64_t, std::size_t> by_id;  // valid frames only
  std::uint64_t invalid_counts[5] = {};
  bool any_presented = false;
  std::uint64_t max_presented_id = 0;

  Invalid check(const trace::FrameSnapshot& s) const {
    if (by_id.count(s.frame) != 0) return Invalid::kDuplicateId;
    if (s.frame >= options.issued) return Invalid::kUnissued;
    for (const std::uint64_t t : s.stamps)
      if (t > options.now_ns) return Invalid::kFuture;
    // Set stamps form a prefix of the stage order and never go backwards.
    bool gap = false;
    std::uint64_t prev = 0;
    for (const std::uint64_t t : s.stamps) {
      if (t == 0) {
        gap = true;
        continue;
      }
      if (gap || t < prev) return Invalid::kOutOfOrder;
      prev = t;
    }
    if (s.at(trace::Stage::kQueued) == 0) return Invalid::kOutOfOrder;
    return Invalid::kNone;
  }

  FrameVerdict verdict_of(const Entry& e) const {
    if (e.invalid != Invalid::kNone) return FrameVerdict::kInvalid;
    if (e.complete) return FrameVerdict::kComplete;
    if ((e.snap.flags & trace::kFlagFailed) != 0) return FrameVerdict::kFailed;
    if ((e.snap.flags & trace::kFlagDropped) != 0) return FrameVerdict::kDropped;
    if (any_presented && e.snap.frame < max_presented_id) return FrameVerdict::kDropped;
    return FrameVerdict::kInFlight;
  }
};

FrameAnalyzer::FrameAnalyzer(AnalyzerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
FrameAnalyzer::~FrameAnalyzer() = default;

FrameVerdict FrameAnalyzer::add(const trace::FrameSnapshot& s) {
  Impl& m = *impl_;
  Impl::Entry e{s, false, m.check(s)};
  if (e.invalid == Invalid::kNone) {
    e.complete = s.at(trace::Stage::kPresented) != 0;
    m.by_id.emplace(s.frame, m.entries.size());
    if (e.complete && (!m.any_presented || s.frame > m.max_presented_id)) {
      m.any_presented = true;
      m.max_presented_id = s.frame;
    }
  } else {
    ++m.invalid_counts[static_cast<int>(e.invalid)];
  }
  m.entries.push_back(e);
  return m.verdict_of(m.entries.back());
}

FrameVerdict FrameAnalyzer::verdict(std::uint64_t id) const {
  const auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return FrameVerdict::kInvalid;
  return impl_->verdict_of(impl_->entries[it->second]);
}

FrameStats FrameAnalyzer::finish() const {
  const Impl& m = *impl_;
  FrameStats st;
  st.records = m.entries.size();
  st.lost = lost_;
  st.invalid_out_of_order = m.invalid_counts[static_cast<int>(Invalid::kOutOfOrder)];
  st.invalid_future = m.invalid_counts[static_cast<int>(Invalid::kFuture)];
  st.invalid_unissued = m.invalid_counts[static_cast<int>(Invalid::kUnissued)];
  st.invalid_duplicate_id = m.invalid_counts[static_cast<int>(Invalid::kDuplicateId)];

  // Heap-allocated: seven 58 KiB histograms would crowd a worker's stack.
  auto hist = std::make_unique<std::array<LogLinearHistogram, kSegmentCount>>();
  std::vector<const trace::FrameSnapshot*> complete;
  for (const auto& e : m.entries) {
    switch (m.verdict_of(e)) {
      case FrameVerdict::kComplete:
        complete.push_back(&e.snap);
        break;
      case FrameVerdict::kDropped:
        ++st.dropped;
        break;
      case FrameVerdict::kFailed:
        ++st.failed;
        break;
      case FrameVerdict::kInFlight:
        ++st.in_flight;
        break;
      case FrameVerdict::kInvalid:
        ++st.invalid;
        break;
    }
  }
  std::sort(complete.begin(), complete.end(),
            [](const trace::FrameSnapshot* a, const trace::FrameSnapshot* b) { return a->frame < b->frame; });
  st.complete = complete.size();
  const trace::FrameSnapshot* prev = nullptr;
  for (const trace::FrameSnapshot* s : complete) {
    for (std::size_t i = 0; i <= static_cast<std::size_t>(Segment::kLatency); ++i)
      (*hist)[i].record(segment_ns(*s, static_cast<Segment>(i)));
    const std::uint64_t latency = segment_ns(*s, Segment::kLatency);
    for (std::size_t r = 0; r < kTargetRatesHz.size(); ++r)
      if (latency > 1'000'000'000u / kTargetRatesHz[r]) ++st.deadline_misses[r];  // latency > 1/R
    if (prev != nullptr && s->at(trace::Stage::kPresented) > prev->at(trace::Stage::kPresented))
      (*hist)[static_cast<std::size_t>(Segment::kInterval)].record(s->at(trace::Stage::kPresented) -
                                                                   prev->at(trace::Stage::kPresented));
    prev = s;
    if (st.first_ns == 0 || s->at(trace::Stage::kQueued) < st.first_ns)
      st.first_ns = s->at(trace::Stage::kQueued);
    st.last_ns = std::max(st.last_ns, s->at(trace::Stage::kPresented));
  }
  for (std::size_t i = 0; i < kSegmentCount; ++i) st.segments[i] = summarize((*hist)[i]);
  return st;
}

}  // namespace triptych::report
