// Query parameters of a request target (application/x-www-form-urlencoded):
// the first line of the input is the parameter's name, the rest the target.
#include "fuzz_input.hpp"

#include <http/problem.hpp>
#include <http/query.hpp>
#include <text/text.hpp>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::as_text(data, size);
  const auto name = fuzz::take_field(input);
  const auto [path, query] = http::split_target(input);
  const auto question = input.find('?');
  if (question == std::string_view::npos) {
    FUZZ_CHECK(path == input && query.empty());
  } else {
    FUZZ_CHECK(path == input.substr(0, question) && query == input.substr(question + 1));
  }
  try {
    const auto value = http::query_parameter(query, name);
    if (value) {
      // A value decodes from a part of the query that names it.
      FUZZ_CHECK(value->size() <= query.size());
      FUZZ_CHECK(query.find(name) != std::string_view::npos);
    }
  } catch (const http::ProblemError& problem) {
    // Only a malformed percent-encoding is refused, and with a 400.
    FUZZ_CHECK(problem.code() == http::status::bad_request);
    FUZZ_CHECK(query.find('%') != std::string_view::npos);
  }

  // A query built from one encoded pair gives back exactly its value.
  if (!name.empty() && name.find_first_of("&=%+") == std::string_view::npos) {
    std::string built(name);
    built += '=';
    const auto encoded_value = query.substr(0, query.find('&'));
    built.append(encoded_value);
    built += "&";
    built += name;
    built += "=second";
    try {
      const auto value = http::query_parameter(built, name);
      FUZZ_CHECK(value.has_value());
      FUZZ_CHECK(value == text::percent_decode(encoded_value, text::Plus::space));
    } catch (const http::ProblemError&) {
      FUZZ_CHECK(!text::percent_decode(encoded_value, text::Plus::space).has_value());
    }
  }
  return 0;
}
