#pragma once
// What may go into a request header: the names and values the exporter sends,
// whether from OTEL_EXPORTER_OTLP_*HEADERS or from its options.
#include <algorithm>
#include <string_view>

namespace otlp {

// RFC 9110 token characters, which a header name must consist of.
inline bool is_token(std::string_view text) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           specials.find(c) != std::string_view::npos;
  });
}

inline bool is_safe_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace otlp
