// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or a typed, readable Error. Creating and attaching shared
// objects returns one instead of throwing, so a corrupt byte from another
// component becomes a message, never a crash (CONVENTIONS.md #4). Not for the
// hot path: Error carries a std::string. Single-threaded value type.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace triptych {

enum class Errc {
  kInvalidArgument,   // a caller-supplied parameter is out of range
  kTooSmall,          // the bytes available cannot hold what was asked for
  kMisaligned,        // a pointer or offset breaks a required alignment
  kBadMagic,          // header magic does not match: not ours, or corrupt
  kBadVersion,        // layout version we do not speak
  kCorruptHeader,     // a header field is out of range or inconsistent
  kOverlap,           // two zones claim the same bytes
  kNotSealed,         // a memfd lacks the seals that make attaching safe
  kSystem,            // an OS call failed; the message carries errno text
  kUnsupported,       // the platform or device lacks a required feature
  kStale,             // a handle's generation no longer matches
  kOutOfRange,        // an index beyond its table
  kBadOption,         // a run option that is unknown, of the wrong type or out of range
  kTimedOut,          // a wait reached its deadline
  kPeerLost,          // the process on the other side died, hung or broke the protocol
};

[[nodiscard]] constexpr std::string_view errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::kInvalidArgument: return "invalid argument";
    case Errc::kTooSmall: return "too small";
    case Errc::kMisaligned: return "misaligned";
    case Errc::kBadMagic: return "bad magic";
    case Errc::kBadVersion: return "bad version";
    case Errc::kCorruptHeader: return "corrupt header";
    case Errc::kOverlap: return "overlap";
    case Errc::kNotSealed: return "not sealed";
    case Errc::kSystem: return "system error";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kStale: return "stale";
    case Errc::kOutOfRange: return "out of range";
    case Errc::kBadOption: return "bad option";
    case Errc::kTimedOut: return "timed out";
    case Errc::kPeerLost: return "peer lost";
  }
  return "unknown";
}

struct Error {
  Errc code;
  std::string message;

  // "corrupt header: zone 3 (compute B) ends at 9000 past the 8192 bytes available"
  [[nodiscard]] std::string what() const {
    return std::string(errc_name(code)) + ": " + message;
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] T& value() & { assert(ok()); return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { assert(ok()); return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  [[nodiscard]] const Error& error() const& { assert(!ok()); return std::get<1>(v_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  [[nodiscard]] const Error& error() const& { assert(!ok_); return error_; }

 private:
  Error error_{Errc::kInvalidArgument, {}};
  bool ok_ = true;
};

[[nodiscard]] inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace triptych
