#include "trace/trace_context.hpp"
#include "text/text.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace trace {
namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  std::string text(2 * N, '0');
  for (std::size_t i = 0; i < N; ++i) {
    text[2 * i] = hex_digits[bytes[i] >> 4];
    text[2 * i + 1] = hex_digits[bytes[i] & 0xF];
  }
  return text;
}

int lower_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

template <std::size_t N>
bool from_hex(std::string_view text, std::array<std::uint8_t, N>& bytes) {
  if (text.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int high = lower_hex_value(text[2 * i]);
    const int low = lower_hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return true;
}

// xoshiro256** (Blackman and Vigna): a nanosecond per 64 bits, against ten
// for mt19937_64, which matters when every request makes two or three ids.
// Each thread's state comes from std::random_device, so threads and processes
// never share a sequence.
class Xoshiro256 {
 public:
  Xoshiro256() {
    std::random_device device;
    for (auto& word : state_) word = (std::uint64_t{device()} << 32) | device();
    if (state_[0] == 0 && state_[1] == 0 && state_[2] == 0 && state_[3] == 0) state_[0] = 1;
  }
  std::uint64_t operator()() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> state_;
};

Xoshiro256& generator() {
  thread_local Xoshiro256 engine;
  return engine;
}

template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& bytes) {
  static_assert(N % 8 == 0);
  auto& engine = generator();
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      const std::uint64_t value = engine();
      std::memcpy(bytes.data() + i, &value, 8);
    }
  } while (detail::all_zero(bytes));
}

bool valid_key(std::string_view key) {
  // key = simple-key / multi-tenant-key (tenant@system), lower-case letters,
  // digits and _-*/ ; at most 256 characters (241 + '@' + 14 for tenant keys).
  if (key.empty() || key.size() > 256) return false;
  const auto at = key.find('@');
  const auto valid_part = [](std::string_view part, std::size_t max, bool first_may_be_digit) {
    if (part.empty() || part.size() > max) return false;
    const char first = part.front();
    if (!((first >= 'a' && first <= 'z') || (first_may_be_digit && first >= '0' && first <= '9'))) return false;
    return std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
    });
  };
  if (at == std::string_view::npos) return valid_part(key, 256, false);
  return valid_part(key.substr(0, at), 241, true) && valid_part(key.substr(at + 1), 14, false);
}

bool valid_value(std::string_view value) {
  // value: printable ASCII 0x20-0x7E except ',' and '=', not ending in a space, at most 256.
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7E && c != ',' && c != '='; });
}

}  // namespace

std::string TraceId::hex() const { return to_hex(bytes); }
std::string SpanId::hex() const { return to_hex(bytes); }
bool operator==(const TraceId& left, const TraceId& right) { return left.bytes == right.bytes; }
bool operator==(const SpanId& left, const SpanId& right) { return left.bytes == right.bytes; }

std::optional<SpanContext> parse_traceparent(std::string_view header) {
  header = text::trim(header);
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55
  if (header.size() < 55) return std::nullopt;
  std::array<std::uint8_t, 1> version{};
  if (!from_hex(header.substr(0, 2), version) || version[0] == 0xFF) return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append fields after a '-'.
  if (version[0] == 0 && header.size() != 55) return std::nullopt;
  if (header.size() > 55 && header[55] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  SpanContext context;
  std::array<std::uint8_t, 1> flags{};
  if (!from_hex(header.substr(3, 32), context.trace_id.bytes) ||
      !from_hex(header.substr(36, 16), context.span_id.bytes) || !from_hex(header.substr(53, 2), flags))
    return std::nullopt;
  if (!context.valid()) return std::nullopt;
  context.trace_flags = version[0] == 0 ? flags[0] : static_cast<std::uint8_t>(flags[0] & 0x01);
  context.remote = true;
  return context;
}

std::string validate_tracestate(std::string_view header) {
  std::size_t members = 0;
  std::string_view rest = header;
  std::vector<std::string_view> keys;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto member = text::trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (member.empty()) continue;  // empty list members are allowed and ignored
    const auto eq = member.find('=');
    if (eq == std::string_view::npos) return {};
    const auto key = member.substr(0, eq);
    if (!valid_key(key) || !valid_value(member.substr(eq + 1))) return {};
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return {};  // duplicate keys invalidate
    keys.push_back(key);
    if (++members > 32) return {};
  }
  if (members == 0) return {};  // only empty list members: nothing to propagate
  return std::string(text::trim(header));
}

std::string format_traceparent(const SpanContext& context) {
  std::string header;
  header.reserve(55);
  header.append("00-").append(context.trace_id.hex()).push_back('-');
  header.append(context.span_id.hex()).push_back('-');
  header.push_back(hex_digits[context.trace_flags >> 4]);
  header.push_back(hex_digits[context.trace_flags & 0xF]);
  return header;
}

TraceId random_trace_id() {
  TraceId id;
  fill_random(id.bytes);
  return id;
}

SpanId random_span_id() {
  SpanId id;
  fill_random(id.bytes);
  return id;
}

}  // namespace trace
