#pragma once
// Just enough of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/)
// to write OTLP by hand: varints, fixed-width scalars, length-delimited bytes
// and nested messages. Private to the otlp library.
//
// The writer appends to a caller-owned std::string, so a reused buffer makes
// encoding allocation-free once it has grown. A nested message reserves five
// bytes for its length, and end() writes the real varint there and slides the
// body left over the unused bytes: one memmove per message, no size pass.
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

// Bytes a value takes as a base-128 varint: 1 to max_varint_bytes.
constexpr std::size_t varint_size(std::uint64_t value) {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

// Encodes `value` as a varint into `buffer`, returning the number of bytes written.
inline std::size_t encode_varint(std::uint64_t value, char* buffer) {
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
  };

  explicit Writer(std::string& out) : out_(out) {}

  // Raw encodings, without a tag.
  void varint(std::uint64_t value) {
    std::array<char, max_varint_bytes> buffer;
    out_.append(buffer.data(), encode_varint(value, buffer.data()));
  }
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
    tag(field, WireType::length_delimited);
    varint(value.size());
    out_.append(value);
  }
  void bytes_field(std::uint32_t field, std::span<const std::uint8_t> value) {
    tag(field, WireType::length_delimited);
    varint(value.size());
    out_.append(reinterpret_cast<const char*>(value.data()), value.size());
  }
  void string_field(std::uint32_t field, std::string_view value) { bytes_field(field, value); }

  // A nested message: begin(), write its fields, end().
  Nested begin(std::uint32_t field) {
    tag(field, WireType::length_delimited);
    const Nested nested{out_.size()};
    out_.append(reserved_length_bytes, '\0');
    return nested;
  }
  void end(Nested nested) {
    const std::size_t body_at = nested.length_at + reserved_length_bytes;
    const std::size_t length = out_.size() - body_at;
    if (length > max_message_bytes) throw std::length_error("protobuf message larger than 2 GiB");
    std::array<char, max_varint_bytes> buffer;
    const std::size_t length_bytes = encode_varint(length, buffer.data());
    char* const at = out_.data() + nested.length_at;
    std::memcpy(at, buffer.data(), length_bytes);
    if (length_bytes < reserved_length_bytes) {
      std::memmove(at + length_bytes, at + reserved_length_bytes, length);
      out_.resize(out_.size() - (reserved_length_bytes - length_bytes));
    }
  }
  template <class Body>
  void message(std::uint32_t field, Body&& body) {
    const Nested nested = begin(field);
    body();
    end(nested);
  }

  std::size_t size() const { return out_.size(); }

 private:
  // Protobuf caps a message at 2 GiB, whose length fits a five-byte varint.
  static constexpr std::size_t reserved_length_bytes = 5;
  static constexpr std::size_t max_message_bytes = 0x7fffffff;

  template <class Unsigned>
  void little_endian(Unsigned value) {
    std::array<char, sizeof(Unsigned)> bytes;
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    out_.append(bytes.data(), bytes.size());
  }

  std::string& out_;
};

}  // namespace otlp::protobuf
