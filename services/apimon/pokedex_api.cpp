#include "pokedex_api.hpp"

#include <faults/http_faults.hpp>
#include <http/json_response.hpp>
#include <http/metrics_endpoint.hpp>
#include <http/openapi_endpoint.hpp>
#include <http/problem.hpp>
#include <http/query.hpp>
#include <logging/logging.hpp>
#include <pokedex/render.hpp>
#include <pokedex/text.hpp>
#include <spdlog/spdlog.h>
#include <text/number.hpp>

#include <algorithm>
#include <random>

namespace apimon {
namespace {

using http::json_response;
using http::ProblemError;
using http::status;
using pokedex::Language;
using pokedex::Page;

Language requested_language(std::string_view query) {
  const auto value = http::query_parameter(query, "lang");
  if (!value) return Language::en;
  if (const auto language = pokedex::parse_language(*value)) return *language;
  std::string supported;
  for (const auto tag : pokedex::language_tags) {
    if (!supported.empty()) supported.append(", ");
    supported.append(tag);
  }
  throw ProblemError(status::bad_request, "Unknown language; supported: " + supported + ".");
}

int integer_parameter(std::string_view query, std::string_view name, int fallback, int min, int max) {
  const auto value = http::query_parameter(query, name);
  if (!value) return fallback;
  if (const auto number = text::parse_bounded_int(*value, min, max)) return *number;
  throw ProblemError(status::bad_request, "Query parameter '" + std::string(name) + "' must be an integer from " +
                                              std::to_string(min) + " to " + std::to_string(max) + ".");
}

Page requested_page(std::string_view query) {
  return Page{integer_parameter(query, "limit", 20, 1, PokedexApi::max_page_size),
              integer_parameter(query, "offset", 0, 0, PokedexApi::max_offset)};
}

// The link to the next page: the same query with the offset moved on.
std::string next_link(std::string_view path, std::string_view query, Page page) {
  std::string link(path);
  char separator = '?';
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (!pair.starts_with("offset=") && pair != "offset" && !pair.empty()) {
      link.push_back(separator);
      link.append(pair);
      separator = '&';
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  link.push_back(separator);
  link.append("offset=").append(std::to_string(page.offset + page.limit));
  return link;
}

// The characters of valid UTF-8: every byte but the continuation bytes (10xxxxxx) starts one.
std::size_t code_points(std::string_view utf8) {
  return static_cast<std::size_t>(
      std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

int random_between(int low, int high) {
  thread_local std::mt19937 engine{std::random_device{}()};
  return std::uniform_int_distribution<int>(low, high)(engine);
}

// Storage errors are logged at most once a second, so an outage under load
// does not turn into a flood of identical lines; the line names the request's
// trace, which holds the failed database span.
void log_storage_error(const std::exception& error, const trace::Span& span) {
  static std::atomic<std::int64_t> last_logged_second{0};
  const auto second =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  auto previous = last_logged_second.load(std::memory_order_relaxed);
  if (previous == second || !last_logged_second.compare_exchange_strong(previous, second)) return;
  const auto& trace = span.context();
  if (trace.valid())
    logging::log_traced(spdlog::level::warn, trace.trace_id.hex(), trace.span_id.hex(), "storage unavailable: {}",
                        error.what());
  else
    spdlog::warn("storage unavailable: {}", error.what());
}

}  // namespace

PokedexApi::PokedexApi(InstrumentedRepository& repository, ResponseCache& cache, metrics::MetricsRegistry& metrics,
                       faults::FaultInjector& faults, std::chrono::seconds retry_after)
    : repository_(repository),
      cache_(cache),
      metrics_(metrics),
      faults_(faults),
      retry_after_(retry_after),
      lookups_(prometheus::BuildCounter()
                   .Name("pokedex_lookups_total")
                   .Help("Pokémon served by /pokemon/{id} and /pokemon/random, by generation and primary type.")
                   .Register(metrics.registry())),
      search_results_(prometheus::BuildHistogram()
                          .Name("pokedex_search_results")
                          .Help("Pokémon returned per page of /pokemon/search.")
                          .Register(metrics.registry())
                          .Add({}, prometheus::Histogram::BucketBoundaries{0, 1, 2, 5, 10, 20, 50, 100})),
      languages_(prometheus::BuildCounter()
                     .Name("pokedex_language_requests_total")
                     .Help("Pokédex requests by the language of the names asked for (?lang=).")
                     .Register(metrics.registry())) {
  for (std::size_t i = 0; i < pokedex::language_tags.size(); ++i)
    language_series_[i] = &languages_.Add({{"lang", std::string(pokedex::language_tags[i])}});
}

void PokedexApi::register_routes(http::Router& router) {
  router.get("/healthz", [](Context& context) -> boost::asio::awaitable<Response> {
    co_return json_response(context.request, R"({"status":"ok"})");
  });
  router.get("/readyz", guarded(&PokedexApi::ready, false));
  // Injected latency and errors reach the API routes only: health checks and
  // scrapes keep answering, as they would for a real fault in request handling.
  // Each names its route template, which the faults' route setting may pick.
  const auto api_route = [&](std::string_view route, http::Handler handler) {
    router.get(route, faults::with_faults(faults_, route, std::move(handler)));
  };
  api_route("/pokemon/{id}", guarded(&PokedexApi::get_pokemon, true));
  api_route("/pokemon/random", guarded(&PokedexApi::random_pokemon, false));
  api_route("/pokemon/search", guarded(&PokedexApi::search, true));
  api_route("/types/{type}/pokemon", guarded(&PokedexApi::by_type, true));
  api_route("/generations/{generation}/pokemon", guarded(&PokedexApi::by_generation, true));
  router.get("/metrics", http::metrics_endpoint(metrics_));
  router.get(http::openapi_route, http::openapi_endpoint(openapi_document()));
}

http::Handler PokedexApi::guarded(boost::asio::awaitable<Response> (PokedexApi::*handler)(Context&), bool cacheable) {
  return [this, handler, cacheable](Context& context) -> boost::asio::awaitable<Response> {
    const std::string_view key = context.request.target();
    const bool use_cache = cacheable && cache_.enabled();
    if (use_cache) {
      auto lookup = context.start_span("cache lookup");
      auto body = cache_.find(key);
      lookup.set_attribute("cache.hit", body != nullptr);
      if (body) co_return json_response(context.request, *body);
    }
    try {
      Response response = co_await (this->*handler)(context);
      if (use_cache && response.result() == status::ok)
        cache_.insert(key, std::make_shared<const std::string>(response.body()));
      co_return response;
    } catch (const pokedex::StorageUnavailable& error) {
      log_storage_error(error, context.span);
    }
    co_return http::unavailable("The Pokédex storage is unavailable; try again later.", retry_after_,
                                context.request.version());
  };
}

boost::asio::awaitable<http::Response> PokedexApi::get_pokemon(Context& context) {
  // Checking the id takes nanoseconds: a span of its own would measure
  // nothing and cost more than the check. A rejected id is an event on the
  // request's span, with what was sent.
  const auto parsed = pokedex::parse_pokedex_id(context.params.get("id"));
  if (parsed.error) context.span.add_event("invalid id", {{"pokemon.id.raw", std::string(context.params.get("id"))}});
  if (parsed.error == pokedex::IdError::not_a_number)
    throw ProblemError(status::bad_request, "The Pokédex number must be a plain positive integer, such as 25.");
  if (parsed.error == pokedex::IdError::out_of_range)
    throw ProblemError(status::bad_request,
                       "The Pokédex number is out of range (at most " + std::to_string(pokedex::max_pokedex_id) + ").");
  co_return co_await pokemon_response(context, parsed.value);
}

boost::asio::awaitable<http::Response> PokedexApi::pokemon_response(Context& context, int id) {
  const Language language = requested_language(context.query);
  count_language(language);
  context.span.set_attribute("pokemon.id", static_cast<std::int64_t>(id));
  auto pokemon = co_await repository_.find_pokemon(context, id, language);
  if (!pokemon) {
    context.span.add_event("pokemon not found");
    throw ProblemError(status::not_found, "No Pokémon has this National Pokédex number.");
  }
  context.span.set_attribute("pokemon.name", pokemon->name);
  count_lookup(*pokemon);
  auto rendering = context.start_span("render pokemon");
  std::string body = pokedex::render_pokemon(*pokemon);
  rendering.set_attribute("response.body.size", static_cast<std::int64_t>(body.size()));
  rendering.end();
  co_return json_response(context.request, std::move(body));
}

boost::asio::awaitable<http::Response> PokedexApi::random_pokemon(Context& context) {
  int max_id = max_id_.load(std::memory_order_relaxed);
  if (max_id == 0) {
    max_id = co_await repository_.max_pokemon_id(context);
    if (max_id < 1) throw ProblemError(status::not_found, "The Pokédex is empty.");
    max_id_.store(max_id, std::memory_order_relaxed);
  }
  co_return co_await pokemon_response(context, random_between(1, max_id));
}

boost::asio::awaitable<http::Response> PokedexApi::search(Context& context) {
  const auto name = http::query_parameter(context.query, "name");
  if (!name || name->empty())
    throw ProblemError(status::bad_request, "Query parameter 'name' is required: the start of a Pokémon's name.");
  // A character takes at most four bytes in UTF-8: a longer name is refused before it is decoded.
  const auto too_long = [] {
    return ProblemError(status::bad_request, "Query parameter 'name' is longer than " +
                                                 std::to_string(max_search_characters) + " characters.");
  };
  if (name->size() > 4 * max_search_characters) throw too_long();
  auto prefix = pokedex::fold_case(*name);
  if (!prefix) throw ProblemError(status::bad_request, "Query parameter 'name' is not valid UTF-8.");
  if (code_points(*prefix) > max_search_characters) throw too_long();
  const Language language = requested_language(context.query);
  const Page page = requested_page(context.query);
  count_language(language);
  auto listing = co_await repository_.search_by_name(context, std::move(*prefix), language, page);
  search_results_.Observe(static_cast<double>(listing.items.size()));
  co_return json_response(context.request,
                          pokedex::render_listing(listing, page, next_link(context.path, context.query, page)));
}

boost::asio::awaitable<http::Response> PokedexApi::by_type(Context& context) {
  const std::string type(context.params.get("type"));
  if (type.size() > 32 || type.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") != std::string::npos)
    throw ProblemError(status::bad_request, "A type is written in lower case, such as 'fire'.");
  const Language language = requested_language(context.query);
  const Page page = requested_page(context.query);
  count_language(language);
  auto listing = co_await repository_.list_by_type(context, type, language, page);
  if (!listing) throw ProblemError(status::not_found, "No such type.");
  co_return json_response(context.request,
                          pokedex::render_listing(*listing, page, next_link(context.path, context.query, page)));
}

boost::asio::awaitable<http::Response> PokedexApi::by_generation(Context& context) {
  const auto generation = text::parse_bounded_int(context.params.get("generation"), 0, 999);
  if (!generation) throw ProblemError(status::bad_request, "A generation is a small positive integer, such as 1.");
  const Language language = requested_language(context.query);
  const Page page = requested_page(context.query);
  count_language(language);
  auto listing = co_await repository_.list_by_generation(context, *generation, language, page);
  if (!listing) throw ProblemError(status::not_found, "No such generation.");
  co_return json_response(context.request,
                          pokedex::render_listing(*listing, page, next_link(context.path, context.query, page)));
}

boost::asio::awaitable<http::Response> PokedexApi::ready(Context& context) {
  co_await repository_.ping(context);
  co_return json_response(context.request, R"({"status":"ready"})");
}

void PokedexApi::count_lookup(const pokedex::Pokemon& pokemon) {
  // Each series is looked up in prometheus-cpp once and then kept: Family::Add
  // costs more than the increment itself by two orders of magnitude.
  const std::string& type = pokemon.types.front();
  const auto* const known = std::find(known_types.begin(), known_types.end(), type);
  if (pokemon.generation < 1 || pokemon.generation > max_generation || known == known_types.end()) {
    lookups_.Add({{"generation", std::to_string(pokemon.generation)}, {"primary_type", type}}).Increment();
    return;
  }
  auto& slot = lookup_series_[static_cast<std::size_t>(pokemon.generation)]
                             [static_cast<std::size_t>(known - known_types.begin())];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (!counter) {
    counter = &lookups_.Add({{"generation", std::to_string(pokemon.generation)}, {"primary_type", type}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
}

void PokedexApi::count_language(pokedex::Language language) {
  language_series_[static_cast<std::size_t>(language)]->Increment();
}

}  // namespace apimon
