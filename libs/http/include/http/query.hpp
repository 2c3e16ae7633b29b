#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace http {

// The decoded value of `name` in an application/x-www-form-urlencoded query
// ("a=1&b=x%20y"), std::nullopt when absent. The first occurrence wins.
// Throws ProblemError(400) when the value's percent-encoding is malformed.
std::optional<std::string> query_parameter(std::string_view query, std::string_view name);

// Splits a request target into path and query (without the '?').
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

}  // namespace http
