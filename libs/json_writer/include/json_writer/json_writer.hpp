#pragma once
// A minimal append-only JSON writer for documents whose shape the caller knows.
// It writes straight into one std::string: no DOM, no intermediate allocations.
// Strings are expected to be valid UTF-8 and are emitted as UTF-8, escaping only
// what RFC 8259 requires.

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace json_writer {

constexpr bool must_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// Whether any of a word's eight bytes must be escaped, tested on the whole
// word at once: "has a byte below 0x20" and "has a zero byte" (applied to the
// word xor a repeated '"' or '\\') are the classic bit tricks, exact as
// answers for the word though not for each byte.
constexpr bool any_must_escape(std::uint64_t word) {
  constexpr std::uint64_t ones = 0x0101010101010101;
  constexpr std::uint64_t highs = 0x8080808080808080;
  const std::uint64_t quotes = word ^ (ones * '"');
  const std::uint64_t backslashes = word ^ (ones * '\\');
  const std::uint64_t below_space = (word - (ones * 0x20)) & ~word;
  const std::uint64_t quote = (quotes - ones) & ~quotes;
  const std::uint64_t backslash = (backslashes - ones) & ~backslashes;
  return ((below_space | quote | backslash) & highs) != 0;
}

// Eight bytes in one word.
inline std::uint64_t word_at(const char* bytes) {
  std::uint64_t word = 0;
  std::memcpy(&word, bytes, sizeof word);
  return word;
}

// The `size` (1 to 7) bytes at `bytes` in one word, the rest of it spaces:
// two overlapping loads cover every length, with no loop and no byte read
// outside the text. Bytes loaded twice do not change the answer of
// any_must_escape.
inline std::uint64_t partial_word_at(const char* bytes, std::size_t size) {
  constexpr std::uint64_t spaces = 0x2020202020202020;
  if (size >= 4) {
    std::uint32_t low = 0;
    std::uint32_t high = 0;
    std::memcpy(&low, bytes, sizeof low);
    std::memcpy(&high, bytes + size - sizeof high, sizeof high);
    return low | (std::uint64_t{high} << 32);
  }
  if (size >= 2) {
    std::uint16_t low = 0;
    std::uint16_t high = 0;
    std::memcpy(&low, bytes, sizeof low);
    std::memcpy(&high, bytes + size - sizeof high, sizeof high);
    return (spaces << 32) | low | (std::uint32_t{high} << 16);
  }
  return (spaces << 8) | static_cast<unsigned char>(bytes[0]);
}

// How many bytes at the start of `text` go into a JSON string as they are.
// Names and paths are short and rarely need an escape, so they are tested a
// word at a time, and the clean run is then copied in one piece.
inline std::size_t clean_prefix(std::string_view text) {
  const char* bytes = text.data();
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i + 8 <= size && !any_must_escape(word_at(bytes + i))) i += 8;
  if (i + 8 > size && (i == size || !any_must_escape(partial_word_at(bytes + i, size - i)))) return size;
  while (!must_escape(static_cast<unsigned char>(bytes[i]))) ++i;  // one is among the next eight bytes
  return i;
}

// The escape of one byte that must_escape, written at `out` (room for 6
// bytes); returns its end.
inline char* write_escape(char* out, unsigned char c) {
  static constexpr std::string_view hex = "0123456789abcdef";
  *out++ = '\\';
  switch (c) {
    case '"': *out++ = '"'; break;
    case '\\': *out++ = '\\'; break;
    case '\n': *out++ = 'n'; break;
    case '\r': *out++ = 'r'; break;
    case '\t': *out++ = 't'; break;
    case '\b': *out++ = 'b'; break;
    case '\f': *out++ = 'f'; break;
    default:
      *out++ = 'u';
      *out++ = '0';
      *out++ = '0';
      *out++ = hex[c >> 4];
      *out++ = hex[c & 0xF];
  }
  return out;
}

// The most bytes a JSON string of `size` bytes of text takes: every byte
// escaped as \u00XX, and the quotes.
constexpr std::size_t escaped_size_bound(std::size_t size) { return (6 * size) + 2; }

// `text` as a JSON string written at `out`, which has room for
// escaped_size_bound(text.size()) bytes; returns its end.
inline char* write_escaped(char* out, std::string_view text) {
  *out++ = '"';
  while (true) {
    const std::size_t clean = clean_prefix(text);
    out = std::copy_n(text.data(), clean, out);
    if (clean == text.size()) break;
    out = write_escape(out, static_cast<unsigned char>(text[clean]));
    text.remove_prefix(clean + 1);
  }
  *out++ = '"';
  return out;
}

// write_escaped onto the end of `out`.
inline void append_escaped(std::string& out, std::string_view text) {
  const std::size_t start = out.size();
  out.resize(start + escaped_size_bound(text.size()));
  out.resize(static_cast<std::size_t>(write_escaped(out.data() + start, text) - out.data()));
}

// `text` as it stands, written at `out`; returns its end.
inline char* write_raw(char* out, std::string_view text) { return std::copy_n(text.data(), text.size(), out); }

// Tracks commas so callers write members in order without bookkeeping.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object() {
    separate();
    out_.push_back('{');
    first_ = true;
    return *this;
  }
  Writer& end_object() {
    out_.push_back('}');
    first_ = false;
    return *this;
  }
  Writer& begin_array() {
    separate();
    out_.push_back('[');
    first_ = true;
    return *this;
  }
  Writer& end_array() {
    out_.push_back(']');
    first_ = false;
    return *this;
  }

  Writer& key(std::string_view name) {
    separate();
    append_escaped(out_, name);
    out_.push_back(':');
    first_ = true;  // the value that follows needs no comma
    return *this;
  }

  Writer& value(std::string_view text) {
    separate();
    append_escaped(out_, text);
    return *this;
  }
  Writer& value(const char* text) { return value(std::string_view(text)); }
  Writer& value(std::int64_t number) {
    separate();
    std::array<char, 24> buffer;
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number);
    out_.append(buffer.data(), end);
    return *this;
  }
  Writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
  Writer& value(bool flag) {
    separate();
    out_.append(flag ? "true" : "false");
    return *this;
  }
  Writer& null() {
    separate();
    out_.append("null");
    return *this;
  }
  // A value already in JSON form (a number formatted by the caller, a pre-escaped string).
  Writer& raw(std::string_view json) {
    separate();
    out_.append(json);
    return *this;
  }

  template <class T>
  Writer& member(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

 private:
  void separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace json_writer
