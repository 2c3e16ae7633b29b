#pragma once
// Just enough of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/)
// to write OTLP by hand: varints, fixed-width scalars, length-delimited bytes
// and nested messages. Private to the otlp library.
//
// The writer appends to a caller-owned std::string, so a reused buffer makes
// encoding allocation-free once it has grown. It writes through a pointer into
// the string grown ahead of need, and sets the string's size to what was
// written when it is destroyed or flushed: read the string only then. A nested
// message keeps room for its length varint as large as the caller's guess of
// the length needs (one byte unless told otherwise: most nested messages are
// small), and end() writes the real varint there. Only a wrong guess costs a
// memmove of the body, left over bytes not needed or right to make room: no
// size pass, and the output is always canonical (no padded varints).
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace otlp::protobuf {

enum class WireType : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

// The longest a base-128 varint of 64 bits gets.
constexpr std::size_t max_varint_bytes = 10;

// Bytes a value takes as a base-128 varint: 1 to max_varint_bytes, one per
// started group of 7 significant bits, without a loop.
constexpr std::size_t varint_size(std::uint64_t value) {
  return (static_cast<std::size_t>(std::bit_width(value | 1)) * 9 + 64) / 64;
}

// Encodes `value` as a varint into `buffer`, returning the number of bytes written.
inline std::size_t encode_varint(std::uint64_t value, char* buffer) {
  if (value < 0x80) {  // tags, and most lengths and counts
    buffer[0] = static_cast<char>(value);
    return 1;
  }
  std::size_t size = 0;
  while (value >= 0x80) {
    buffer[size++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  buffer[size++] = static_cast<char>(value);
  return size;
}

class Writer {
 public:
  // Where a nested message's reserved length lives; from begin(), for end().
  struct Nested {
    std::size_t length_at;
    std::size_t reserved;
  };

  explicit Writer(std::string& out) : out_(out), used_(out.size()) {}
  ~Writer() { flush(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Cuts the string to what was written so far (the destructor does too).
  void flush() { out_.resize(used_); }

  // Raw encodings, without a tag.
  void varint(std::uint64_t value) { used_ += encode_varint(value, room(max_varint_bytes)); }
  void fixed32(std::uint32_t value) { little_endian(value); }
  void fixed64(std::uint64_t value) { little_endian(value); }
  void tag(std::uint32_t field, WireType type) {
    varint((std::uint64_t{field} << 3) | static_cast<std::uint8_t>(type));
  }

  // Fields. Each is written even when it holds its type's default value: the
  // caller skips proto3 defaults itself where presence does not matter (it
  // does inside a oneof such as AnyValue).
  void uint64_field(std::uint32_t field, std::uint64_t value) {
    tag(field, WireType::varint);
    varint(value);
  }
  // int64 (not sint64): a negative value takes ten bytes, as protobuf does.
  void int64_field(std::uint32_t field, std::int64_t value) { uint64_field(field, static_cast<std::uint64_t>(value)); }
  void bool_field(std::uint32_t field, bool value) { uint64_field(field, value ? 1 : 0); }
  void fixed32_field(std::uint32_t field, std::uint32_t value) {
    tag(field, WireType::fixed32);
    fixed32(value);
  }
  void fixed64_field(std::uint32_t field, std::uint64_t value) {
    tag(field, WireType::fixed64);
    fixed64(value);
  }
  void double_field(std::uint32_t field, double value) { fixed64_field(field, std::bit_cast<std::uint64_t>(value)); }
  void bytes_field(std::uint32_t field, std::string_view value) {
    char* at = room(2 * max_varint_bytes + value.size());
    at += encode_varint((std::uint64_t{field} << 3) | static_cast<std::uint8_t>(WireType::length_delimited), at);
    at += encode_varint(value.size(), at);
    if (!value.empty()) std::memcpy(at, value.data(), value.size());
    used_ = static_cast<std::size_t>(at + value.size() - out_.data());
  }
  void bytes_field(std::uint32_t field, std::span<const std::uint8_t> value) {
    bytes_field(field, std::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
  }
  void string_field(std::uint32_t field, std::string_view value) { bytes_field(field, value); }

  // A nested message: begin(), write its fields, end(). `expected_length`
  // only sizes the room kept for the length; any length is written correctly.
  Nested begin(std::uint32_t field, std::size_t expected_length = 0) {
    tag(field, WireType::length_delimited);
    const Nested nested{used_, varint_size(expected_length)};
    room(nested.reserved);
    used_ += nested.reserved;
    return nested;
  }
  void end(Nested nested) {
    const std::size_t body_at = nested.length_at + nested.reserved;
    const std::size_t length = used_ - body_at;
    if (length > max_message_bytes) throw std::length_error("protobuf message larger than 2 GiB");
    const std::size_t length_bytes = varint_size(length);
    if (length_bytes != nested.reserved) {
      if (length_bytes > nested.reserved) room(length_bytes - nested.reserved);
      char* const body = out_.data() + body_at;
      std::memmove(body + length_bytes - nested.reserved, body, length);
      used_ = used_ + length_bytes - nested.reserved;
    }
    encode_varint(length, out_.data() + nested.length_at);
  }
  template <class Body>
  void message(std::uint32_t field, Body&& body) {
    const Nested nested = begin(field);
    body();
    end(nested);
  }
  // The same, keeping room for a length of about `expected_length` bytes.
  template <class Body>
  void message(std::uint32_t field, std::size_t expected_length, Body&& body) {
    const Nested nested = begin(field, expected_length);
    body();
    end(nested);
  }

  // `bytes` bytes to fill at once, already counted as written: for a caller
  // that knows a field's exact encoded size and writes it in one go.
  char* claim(std::size_t bytes) {
    char* const at = room(bytes);
    used_ += bytes;
    return at;
  }

  // Bytes written so far, what the string held before included.
  std::size_t size() const { return used_; }

 private:
  // Protobuf caps a message at 2 GiB.
  static constexpr std::size_t max_message_bytes = 0x7fffffff;

  // Where the next `bytes` bytes go, the string grown first if need be.
  char* room(std::size_t bytes) {
    if (out_.size() - used_ < bytes) grow(bytes);
    return out_.data() + used_;
  }
  // Grows by small steps: resize() zero-fills what it adds, so growing to the
  // whole capacity at once would clear far more than is written. (The
  // string's own capacity still doubles: no more reallocations than append.)
  void grow(std::size_t bytes) { out_.resize(used_ + std::max(bytes, growth_step)); }
  static constexpr std::size_t growth_step = 1024;

  template <class Unsigned>
  void little_endian(Unsigned value) {
    char* const at = room(sizeof(Unsigned));
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(at, &value, sizeof value);
    } else {
      for (std::size_t i = 0; i < sizeof(Unsigned); ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    }
    used_ += sizeof(Unsigned);
  }

  std::string& out_;
  std::size_t used_;  // bytes of out_ written; out_ may be longer until flush()
};

}  // namespace otlp::protobuf
