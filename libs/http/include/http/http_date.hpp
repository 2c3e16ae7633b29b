#pragma once
#include <string_view>

namespace http {

// The current time in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted at most once per second per thread.
std::string_view http_date_now();

}  // namespace http
