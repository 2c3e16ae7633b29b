#include "http/http_date.hpp"

#include <ctime>

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

}  // namespace http
