#pragma once
// A minimal append-only JSON writer for documents whose shape the caller knows.
// It writes straight into one std::string: no DOM, no intermediate allocations.
// Strings are expected to be valid UTF-8 and are emitted as UTF-8, escaping only
// what RFC 8259 requires.

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace json_writer {

inline void append_escaped(std::string& out, std::string_view text) {
  static constexpr std::string_view hex = "0123456789abcdef";
  out.push_back('"');
  std::size_t clean_from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.substr(clean_from, i - clean_from));
    clean_from = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xF]);
    }
  }
  out.append(text.substr(clean_from));
  out.push_back('"');
}

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
