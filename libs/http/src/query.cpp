#include "http/query.hpp"

#include "http/problem.hpp"
#include "text/text.hpp"

namespace http {

std::optional<std::string> query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      const auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      auto value = text::percent_decode(raw, text::Plus::space);
      if (!value)
        throw ProblemError(status::bad_request,
                           "Query parameter '" + std::string(name) + "' has a malformed percent-encoding.");
      return value;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

}  // namespace http
