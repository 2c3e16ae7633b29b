#include "http/http_date.hpp"

#include "text/text.hpp"

#include <algorithm>
#include <array>

namespace http {

std::string_view http_date_now() {
  thread_local std::time_t cached_second = -1;
  thread_local char text[32];
  thread_local std::size_t length = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached_second = now;
  }
  return {text, length};
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  static constexpr std::array<std::string_view, 12> months{"jan", "feb", "mar", "apr", "may", "jun",
                                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  static constexpr std::array<std::string_view, 7> weekdays{"monday", "tuesday",  "wednesday", "thursday",
                                                            "friday", "saturday", "sunday"};
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto number = [](std::string_view digits) {
    int value = 0;
    for (const char c : digits) value = value * 10 + (c - '0');
    return value;
  };
  int day = -1, month = -1, year = -1, hour = -1, minute = -1, second = -1;
  bool weekday = false, zone = false;
  constexpr std::string_view separators = " ,-";
  while (true) {
    const auto start = text.find_first_not_of(separators);
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto token = text.substr(0, text.find_first_of(separators));
    text.remove_prefix(token.size());
    if (std::all_of(token.begin(), token.end(), is_digit)) {
      if (token.size() <= 2 && day < 0) {
        day = number(token);
      } else if (token.size() == 4 && year < 0) {
        year = number(token);
      } else if (token.size() == 2 && year < 0) {  // RFC 850's two digits, the RFC's fifty-year rule (roughly)
        year = number(token);
        year += year < 70 ? 2000 : 1900;
      } else {
        return std::nullopt;
      }
    } else if (token.size() == 8 && token[2] == ':' && token[5] == ':') {
      for (const std::size_t i : {0, 1, 3, 4, 6, 7})
        if (!is_digit(token[i])) return std::nullopt;
      if (hour >= 0) return std::nullopt;
      hour = number(token.substr(0, 2));
      minute = number(token.substr(3, 2));
      second = number(token.substr(6, 2));
    } else if (text::iequals(token, "GMT") && !zone) {
      zone = true;
    } else if (const auto m = std::find_if(months.begin(), months.end(),
                                           [&](std::string_view name) { return text::iequals(token, name); });
               m != months.end() && month < 0) {
      month = static_cast<int>(m - months.begin());
    } else if (std::any_of(weekdays.begin(), weekdays.end(),
                           [&](std::string_view name) {
                             return text::iequals(token, name) || text::iequals(token, name.substr(0, 3));
                           }) &&
               !weekday && day < 0 && month < 0) {
      weekday = true;
    } else {
      return std::nullopt;
    }
  }
  if (day < 1 || day > 31 || month < 0 || year < 1970 || hour < 0 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::tm fields{};
  fields.tm_year = year - 1900;
  fields.tm_mon = month;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  const std::time_t when = ::timegm(&fields);
  if (when == -1) return std::nullopt;
  return when;
}

}  // namespace http
