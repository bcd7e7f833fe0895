// SPDX-License-Identifier: Apache-2.0
// The project's one JSON writer: a minimal streaming writer onto an
// std::ostream, used by the report layer's exporters and the core plan's
// to_json. Escapes '<', '>' and '&' too, so its output can sit inside an HTML
// <script> element unchanged; non-finite numbers are written as null.
// Allocates (nesting depth); off the hot path. Single-threaded: one writer per
// stream. docs/tracing.md ("Exporters").
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <utility>
#include <vector>

namespace triptych {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& os) : os_(os) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  void key(std::string_view k) {
    separate();
    string(k);
    os_ << ':';
    after_key_ = true;
  }

  void value(std::string_view s) {
    separate();
    string(s);
  }
  void value(const char* s) { value(std::string_view(s)); }
  void value(bool b) {
    separate();
    os_ << (b ? "true" : "false");
  }
  void value(std::uint64_t v) {
    separate();
    os_ << v;
  }
  void value(std::int64_t v) {
    separate();
    os_ << v;
  }
  void value(std::uint32_t v) { value(static_cast<std::uint64_t>(v)); }
  void value(double v) {
    separate();
    number(v, -1);
  }
  // A number with a fixed count of decimals (compact per-frame arrays).
  void fixed(double v, int decimals) {
    separate();
    number(v, decimals);
  }
  void null() {
    separate();
    os_ << "null";
  }

  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  // An array of every element, each written with value().
  template <class T>
  void value(const std::vector<T>& items) {
    begin_array();
    for (const T& item : items) value(item);
    end_array();
  }

  // One value that `write(std::ostream&)` writes itself: a whole JSON value
  // from another writer on the same stream (the HTML report nests stats.json).
  template <class WriteValue>
  void nested(WriteValue&& write) {
    separate();
    std::forward<WriteValue>(write)(os_);
  }

 private:
  void open(char c) {
    separate();
    os_ << c;
    first_.push_back(true);
  }
  void close(char c) {
    first_.pop_back();
    os_ << c;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) os_ << ',';
      first_.back() = false;
    }
  }
  void number(double v, int decimals) {
    if (!std::isfinite(v)) {
      os_ << "null";
      return;
    }
    char buf[64];
    const auto r =
        decimals < 0 ? std::to_chars(buf, buf + sizeof(buf), v)
                     : std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
    os_.write(buf, r.ptr - buf);
  }
  void string(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    os_ << '"';
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (ch) {
        case '"':
          os_ << "\\\"";
          break;
        case '\\':
          os_ << "\\\\";
          break;
        case '\n':
          os_ << "\\n";
          break;
        case '\r':
          os_ << "\\r";
          break;
        case '\t':
          os_ << "\\t";
          break;
        default:
          if (c < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            os_ << "\\u00" << kHex[c >> 4] << kHex[c & 15];
          } else {
            os_ << ch;
          }
      }
    }
    os_ << '"';
  }

  std::ostream& os_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace triptych
