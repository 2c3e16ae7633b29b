// Route matching as the server does it for every request: the target split
// into path and query, the path looked up among the services' route
// templates, then the path parameters and query parameters read as the
// handlers read them. The first byte picks the method, or (odd) makes the
// input a route template and a path to match against it.
#include "fuzz_input.hpp"

#include <http/problem.hpp>
#include <http/query.hpp>
#include <http/router.hpp>
#include <pokedex/model.hpp>
#include <pokedex/text.hpp>
#include <text/number.hpp>
#include <text/text.hpp>

#include <array>
#include <stdexcept>
#include <string>

namespace {

// The route tables of apimon, api-prometheus and the fault-injection admin API.
constexpr std::array<std::string_view, 12> get_templates = {"/healthz",
                                                            "/readyz",
                                                            "/metrics",
                                                            "/openapi.json",
                                                            "/pokemon/{id}",
                                                            "/pokemon/random",
                                                            "/pokemon/search",
                                                            "/types/{type}/pokemon",
                                                            "/generations/{generation}/pokemon",
                                                            "/battle/{first}/{second}",
                                                            "/team/{size}",
                                                            "/admin/faults"};

constexpr std::array<http::verb, 6> methods = {http::verb::get,  http::verb::put,  http::verb::delete_,
                                               http::verb::post, http::verb::head, http::verb::options};

http::asio::awaitable<http::Response> unused_handler(http::RequestContext& /*context*/) { co_return http::Response{}; }

const http::Router& service_router() {
  static const http::Router router = [] {
    http::Router routes;
    for (const auto pattern : get_templates) routes.get(pattern, unused_handler);
    routes.add(http::verb::put, "/admin/faults", unused_handler);
    routes.add(http::verb::delete_, "/admin/faults", unused_handler);
    return routes;
  }();
  return router;
}

// Whether `piece` is a view into `text`.
bool inside(std::string_view piece, std::string_view text) {
  return piece.data() >= text.data() && piece.data() + piece.size() <= text.data() + text.size();
}

// What a matched template promises about the parameters it captured.
void check_params(const http::PathParams& params, std::string_view path) {
  for (const char* name : {"id", "type", "generation", "first", "second", "size"}) {
    const auto value = params.get(name);
    if (value.data() == nullptr) continue;
    FUZZ_CHECK(!value.empty());
    FUZZ_CHECK(value.find('/') == std::string_view::npos);
    FUZZ_CHECK(inside(value, path));
  }
}

// A Pokédex number as apimon and api-prometheus read it: one spelling per number.
void check_pokedex_id(std::string_view digits) {
  const auto parsed = pokedex::parse_pokedex_id(digits);
  if (parsed.error) {
    FUZZ_CHECK(parsed.value == 0);
    return;
  }
  FUZZ_CHECK(parsed.value >= 0 && parsed.value <= pokedex::max_pokedex_id);
  FUZZ_CHECK(std::to_string(parsed.value) == digits);
}

void check_bounded(std::string_view digits, int min, int max) {
  if (const auto number = text::parse_bounded_int(digits, min, max)) {
    FUZZ_CHECK(*number >= min && *number <= max);
    FUZZ_CHECK(text::is_plain_digits(digits));
  }
}

// The query parameters the handlers read; malformed ones are a 400, nothing else.
void read_query(std::string_view query) {
  for (const char* name : {"lang", "limit", "offset", "name"}) {
    try {
      const auto value = http::query_parameter(query, name);
      if (!value) continue;
      FUZZ_CHECK(value->size() <= query.size());
      if (std::string_view(name) == "lang") {
        if (const auto language = pokedex::parse_language(*value))
          FUZZ_CHECK(text::iequals(pokedex::tag(*language), *value));
      } else if (std::string_view(name) == "name") {
        if (const auto folded = pokedex::fold_case(*value)) FUZZ_CHECK(folded->size() == value->size());
      } else {
        check_bounded(*value, 0, 100000);
      }
    } catch (const http::ProblemError& problem) {
      FUZZ_CHECK(problem.code() == http::status::bad_request);
    }
  }
}

void route_request(http::verb method, std::string_view target) {
  const auto [path, query] = http::split_target(target);
  FUZZ_CHECK(path.size() + query.size() <= target.size());
  http::PathParams params;
  const auto lookup = service_router().find(method, path, params);
  switch (lookup.outcome) {
    case http::RouteLookup::Outcome::found: {
      FUZZ_CHECK(lookup.handler != nullptr && lookup.route != nullptr);
      http::PathParams again;
      FUZZ_CHECK(http::RouteTemplate(*lookup.route).match(path, again));
      FUZZ_CHECK(again.size() == params.size());
      check_params(params, path);
      const std::string_view route = *lookup.route;
      if (route == "/pokemon/{id}") check_pokedex_id(params.get("id"));
      if (route == "/battle/{first}/{second}") {
        check_pokedex_id(params.get("first"));
        check_pokedex_id(params.get("second"));
      }
      if (route == "/generations/{generation}/pokemon") check_bounded(params.get("generation"), 0, 999);
      if (route == "/team/{size}") check_bounded(params.get("size"), 1, 6);
      read_query(query);
      break;
    }
    case http::RouteLookup::Outcome::method_not_allowed:
      FUZZ_CHECK(!lookup.allow.empty());
      FUZZ_CHECK(lookup.handler == nullptr);
      break;
    case http::RouteLookup::Outcome::not_found:
      FUZZ_CHECK(lookup.handler == nullptr && lookup.allow.empty());
      FUZZ_CHECK(params.size() == 0);
      break;
  }
}

// Any template the router accepts matches its own text, and specificity is
// an order: never both ways.
void match_template(std::string_view pattern, std::string_view path) {
  try {
    const http::RouteTemplate route(pattern);
    http::PathParams params;
    FUZZ_CHECK(route.match(pattern, params));
    if (route.match(path, params)) FUZZ_CHECK(params.size() <= http::PathParams::capacity);
    for (const auto known : get_templates) {
      const http::RouteTemplate other(known);
      FUZZ_CHECK(!(route.more_specific_than(other) && other.more_specific_than(route)));
    }
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  std::string_view input = fuzz::as_text(data + 1, size - 1);
  if ((selector & 1U) != 0) {
    const auto pattern = fuzz::take_field(input);
    match_template(pattern, input);
  } else {
    route_request(methods[(selector >> 1U) % methods.size()], input);
  }
  return 0;
}
