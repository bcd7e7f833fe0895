// SPDX-License-Identifier: Apache-2.0
// LogLinearHistogram: a fixed-memory, HDR-style histogram of u64 values (ns).
// Values below 256 get a bucket each; above, every power-of-two range is cut
// into 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide
// and a reported percentile (the bucket midpoint, clamped to the exact min and
// max) is within kMaxRelativeError = 1/256 (0.39%) of the true sample. Count,
// min, max, mean and stddev are exact (Welford). 7424 u64 buckets (58 KiB),
// covering the whole u64 range; record() never allocates. Single-threaded:
// one histogram per analyser. docs/tracing.md ("Statistics").
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace triptych::report {

class LogLinearHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;  // 128 per power of two
  static constexpr std::size_t kBucketCount = (64 - kSubBucketBits + 1) * kSubBuckets;
  // |reported - true| <= true * kMaxRelativeError for every percentile.
  static constexpr double kMaxRelativeError = 1.0 / (2.0 * static_cast<double>(kSubBuckets));
  // Values below this are recorded exactly (one bucket per value).
  static constexpr std::uint64_t kExactBelow = 2 * kSubBuckets;

  [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t v) noexcept {
    if (v < kSubBuckets) return static_cast<std::size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - kSubBucketBits;
    return static_cast<std::size_t>(shift) * kSubBuckets + static_cast<std::size_t>(v >> shift);
  }
  [[nodiscard]] static constexpr std::uint64_t bucket_lower(std::size_t b) noexcept {
    if (b < kExactBelow) return b;
    const std::uint64_t shift = b / kSubBuckets - 1;
    return (kSubBuckets + b % kSubBuckets) << shift;
  }
  [[nodiscard]] static constexpr std::uint64_t bucket_width(std::size_t b) noexcept {
    return b < kExactBelow ? 1 : std::uint64_t{1} << (b / kSubBuckets - 1);
  }

  void record(std::uint64_t v) noexcept {
    ++counts_[bucket_of(v)];
    ++count_;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
    const double x = static_cast<double>(v);
    const double delta = x - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (x - mean_);
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept { return mean_; }
  // Population standard deviation (divides by n): the jitter of the run itself.
  [[nodiscard]] double stddev() const noexcept {
    return count_ == 0 ? 0.0 : std::sqrt(m2_ / static_cast<double>(count_));
  }

  // The smallest recorded value v with at least ceil(p% of count) samples <= v,
  // as its bucket midpoint clamped to [min, max]; p in [0, 100]. 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    if (!(p > 0.0)) return min();
    if (p >= 100.0) return max_;
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBucketCount; ++b) {
      seen += counts_[b];
      if (seen >= rank) {
        const std::uint64_t mid = bucket_lower(b) + (bucket_width(b) - 1) / 2;
        return mid < min_ ? min_ : (mid > max_ ? max_ : mid);
      }
    }
    return max_;
  }

  // Samples in bucket b (for exporters that want the raw shape).
  [[nodiscard]] std::uint64_t bucket_count(std::size_t b) const noexcept { return counts_[b]; }

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
};

static_assert(LogLinearHistogram::bucket_of(~std::uint64_t{0}) ==
                  LogLinearHistogram::kBucketCount - 1,
              "the last bucket holds the largest u64");
static_assert(LogLinearHistogram::bucket_lower(LogLinearHistogram::bucket_of(1000)) <= 1000,
              "a value lies in its own bucket");

}  // namespace triptych::report
