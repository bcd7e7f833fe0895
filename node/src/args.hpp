// SPDX-License-Identifier: Apache-2.0
// Argument helpers shared by every binding of both addons (triptych.node and
// triptych_testing.node): the bytes behind a TypedArray, integers from a
// Number or BigInt, optional fields of an options object, and the JS error a
// native Error becomes. Each throws a JS TypeError/RangeError naming the bad
// argument; none blocks or allocates beyond the JS values it returns. Call from
// the JS thread that owns `env` (main or worker). Design: docs/node.md.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "triptych/core/result.hpp"

namespace triptych::node {

// Throws a JS Error carrying `e`'s message and a stable code (ERR_TRIPTYCH_*).
[[noreturn]] void throw_error(const Napi::Env& env, const Error& e);

// The bytes a TypedArray views (over an ArrayBuffer or a SharedArrayBuffer,
// whose address napi_get_arraybuffer_info would refuse) and where they start
// in that buffer.
struct TypedBytes {
  std::span<std::byte> bytes;
  std::size_t buffer_offset = 0;
};

// TypeError "`what` must be `expected`" when `v` is not a TypedArray.
TypedBytes typed_array_bytes(const Napi::Env& env, const Napi::Value& v, const std::string& what,
                             const char* expected = "a TypedArray");

// A non-negative integer from a lossless BigInt or an exact Number up to
// 2^53 - 1; RangeError "`what` must be a non-negative integer" otherwise.
std::uint64_t to_u64(const Napi::Env& env, const Napi::Value& v, const char* what);

// A BigInt's value when it fits a uint64 losslessly; nullopt otherwise.
std::optional<std::uint64_t> bigint_u64(const Napi::Value& v);

// `v` as a string / a number, or `fallback` when it is of another type.
std::string string_or(const Napi::Value& v, const std::string& fallback);
double number_or(const Napi::Value& v, double fallback);

// An options object: `v` itself, or an empty object when undefined.
Napi::Object get_object(const Napi::Env& env, const Napi::Value& v, const char* what);

// Optional fields of an options object (the run options go through the
// table instead, options.hpp): undefined or null means absent (the
// fallback); a value of another type throws a TypeError naming the key.
std::uint64_t opt_uint(const Napi::Object& o, const char* key, std::uint64_t fallback, std::uint64_t lo,
                       std::uint64_t hi);
std::optional<std::string> opt_string(const Napi::Object& o, const char* key);

}  // namespace triptych::node
