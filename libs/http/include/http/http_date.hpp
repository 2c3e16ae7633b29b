#pragma once
#include <ctime>
#include <optional>
#include <string_view>

namespace http {

// The current time in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted at most once per second per thread.
std::string_view http_date_now();

// An HTTP date (RFC 9110 section 5.6.7): the IMF-fixdate "Sun, 06 Nov 1994
// 08:49:37 GMT" that servers send, and, as recipients are to accept them, the
// obsolete "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37
// 1994". Names in any case; nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace http
