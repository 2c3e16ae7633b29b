#include "http/http_date.hpp"

#include "text/text.hpp"

#include <algorithm>
#include <array>

namespace http {

namespace {

// What a date has said so far; -1 and false for parts not seen yet.
struct DateFields {
  int day = -1;
  int month = -1;
  int year = -1;
  int hour = -1;
  int minute = -1;
  int second = -1;
  bool weekday = false;
  bool zone = false;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int number(std::string_view digits) {
  int value = 0;
  for (const char c : digits) value = value * 10 + (c - '0');
  return value;
}

// A run of digits: the day first, then the year.
bool take_number(std::string_view token, DateFields& date) {
  if (token.size() <= 2 && date.day < 0) {
    date.day = number(token);
  } else if (token.size() == 4 && date.year < 0) {
    date.year = number(token);
  } else if (token.size() == 2 && date.year < 0) {  // RFC 850's two digits, the RFC's fifty-year rule (roughly)
    date.year = number(token);
    date.year += date.year < 70 ? 2000 : 1900;
  } else {
    return false;
  }
  return true;
}

bool looks_like_clock(std::string_view token) { return token.size() == 8 && token[2] == ':' && token[5] == ':'; }

// hh:mm:ss, once.
bool take_clock(std::string_view token, DateFields& date) {
  for (const std::size_t i : {0, 1, 3, 4, 6, 7})
    if (!is_digit(token[i])) return false;
  if (date.hour >= 0) return false;
  date.hour = number(token.substr(0, 2));
  date.minute = number(token.substr(3, 2));
  date.second = number(token.substr(6, 2));
  return true;
}

std::optional<int> month_index(std::string_view token) {
  static constexpr std::array<std::string_view, 12> months{"jan", "feb", "mar", "apr", "may", "jun",
                                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  const auto* const found = std::find_if(months.begin(), months.end(),
                                         [&](std::string_view name) { return text::iequals(token, name); });
  if (found == months.end()) return std::nullopt;
  return static_cast<int>(found - months.begin());
}

bool is_weekday_name(std::string_view token) {
  static constexpr std::array<std::string_view, 7> weekdays{"monday", "tuesday",  "wednesday", "thursday",
                                                            "friday", "saturday", "sunday"};
  return std::any_of(weekdays.begin(), weekdays.end(), [&](std::string_view name) {
    return text::iequals(token, name) || text::iequals(token, name.substr(0, 3));
  });
}

// Records one token of the date; false when it fits nowhere.
bool take_token(std::string_view token, DateFields& date) {
  if (std::all_of(token.begin(), token.end(), is_digit)) return take_number(token, date);
  if (looks_like_clock(token)) return take_clock(token, date);
  if (text::iequals(token, "GMT") && !date.zone) {
    date.zone = true;
    return true;
  }
  if (const auto month = month_index(token); month && date.month < 0) {
    date.month = *month;
    return true;
  }
  if (is_weekday_name(token) && !date.weekday && date.day < 0 && date.month < 0) {
    date.weekday = true;
    return true;
  }
  return false;
}

int days_in_month(int month, int year) {
  static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 1 && leap ? 29 : days[static_cast<std::size_t>(month)];
}

// A day the month has (no 31 Nov, no 29 Feb outside leap years), a time of
// day with room for a leap second.
bool complete_and_in_range(const DateFields& date) {
  return date.month >= 0 && date.year >= 1970 && date.day >= 1 && date.day <= days_in_month(date.month, date.year) &&
         date.hour >= 0 && date.hour <= 23 && date.minute <= 59 && date.second <= 60;
}

// The first second of the year 10000: an IMF-fixdate has four digits of year,
// and a leap second on 31 Dec 9999 would reach it.
constexpr std::time_t year_10000 = 253'402'300'800;

}  // namespace

std::string_view http_date_now() {
  thread_local std::time_t cached_second = -1;
  thread_local std::array<char, 32> text{};
  thread_local std::size_t length = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    length = std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached_second = now;
  }
  return {text.data(), length};
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  DateFields date;
  constexpr std::string_view separators = " ,-";
  while (true) {
    const auto start = text.find_first_not_of(separators);
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto token = text.substr(0, text.find_first_of(separators));
    text.remove_prefix(token.size());
    if (!take_token(token, date)) return std::nullopt;
  }
  if (!complete_and_in_range(date)) return std::nullopt;
  std::tm fields{};
  fields.tm_year = date.year - 1900;
  fields.tm_mon = date.month;
  fields.tm_mday = date.day;
  fields.tm_hour = date.hour;
  fields.tm_min = date.minute;
  fields.tm_sec = date.second;
  const std::time_t when = ::timegm(&fields);
  if (when == -1 || when >= year_10000) return std::nullopt;
  return when;
}

}  // namespace http
