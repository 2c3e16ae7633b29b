#include "api_prometheus.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <faults/http_faults.hpp>
#include <http/json_response.hpp>
#include <http/metrics_endpoint.hpp>
#include <http/openapi_endpoint.hpp>
#include <http/problem.hpp>
#include <http/query.hpp>
#include <json_writer/json_writer.hpp>
#include <pokedex/text.hpp>
#include <text/number.hpp>

namespace api_prometheus {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::json_response;
using http::ProblemError;
using http::status;

// The Pokédex number in a path segment, validated like apimon does, so a bad
// request never costs an upstream call.
int pokedex_id(std::string_view text) {
  const auto parsed = pokedex::parse_pokedex_id(text);
  if (parsed.error)
    throw ProblemError(status::bad_request, "A Pokédex number is a plain positive integer, such as 25.");
  return parsed.value;
}

std::int64_t total_base_stats(const json::object& pokemon) {
  std::int64_t total = 0;
  for (const auto& [name, value] : pokemon.at("base_stats").as_object()) total += value.as_int64();
  return total;
}

// Runs make(i) for i in [0, count) concurrently on this event loop and returns
// their results in order; the first failure is rethrown once all have ended.
template <class T, class Make>
asio::awaitable<std::vector<T>> gather(std::size_t count, Make make) {
  const auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(const asio::any_io_executor& ex, std::size_t n) : results(n), errors(n), pending(n), done(ex) {}
    std::vector<T> results;
    std::vector<std::exception_ptr> errors;
    std::size_t pending;
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(executor, count);
  state->done.expires_at(asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < count; ++i) {
    asio::co_spawn(executor, make(i), [state, i](const std::exception_ptr& error, T value) {
      if (error)
        state->errors[i] = error;
      else
        state->results[i] = std::move(value);
      if (--state->pending == 0) state->done.cancel();
    });
  }
  // Completions run on this loop, after this coroutine suspends here: none can be missed.
  co_await state->done.async_wait(asio::as_tuple(asio::use_awaitable));
  for (const auto& error : state->errors)
    if (error) std::rethrow_exception(error);
  co_return std::move(state->results);
}

}  // namespace

ApiPrometheus::ApiPrometheus(Upstream& upstream, metrics::MetricsRegistry& metrics, faults::FaultInjector& faults,
                             int max_team_size)
    : upstream_(upstream),
      metrics_(metrics),
      faults_(faults),
      max_team_size_(max_team_size),
      battles_(prometheus::BuildCounter()
                   .Name("apiprom_battles_total")
                   .Help("Battles decided, by outcome: the first Pokémon wins, the second, or a draw.")
                   .Register(metrics.registry())),
      teams_in_progress_(prometheus::BuildGauge()
                             .Name("apiprom_team_builds_in_progress")
                             .Help("Team builds waiting for apimon right now.")
                             .Register(metrics.registry())
                             .Add({})),
      team_strength_(
          prometheus::BuildHistogram()
              .Name("apiprom_team_base_stats")
              .Help("Sum of the base stats of the teams built.")
              .Register(metrics.registry())
              .Add({}, prometheus::Histogram::BucketBoundaries{500, 1000, 1500, 2000, 2500, 3000, 3500, 4000})),
      upstream_body_size_(prometheus::BuildSummary()
                              .Name("apiprom_upstream_response_body_bytes")
                              .Help("Size of apimon's response bodies, as quantiles over the last 10 minutes.")
                              .Register(metrics.registry())
                              .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}},
                                   std::chrono::minutes(10), 5)),
      upstream_info_(prometheus::BuildGauge()
                         .Name("apiprom_upstream_info")
                         .Help("The apimon this instance calls, as labels; the value is always 1.")
                         .Register(metrics.registry())
                         .Add({{"url", upstream.url()}})) {
  upstream_info_.Set(1);
  for (const char* outcome : {"first", "second", "draw"}) battles_.Add({{"outcome", outcome}});
}

void ApiPrometheus::register_routes(http::Router& router) {
  router.get("/healthz", [](Context& context) -> asio::awaitable<Response> {
    co_return json_response(context.request, R"({"status":"ok"})");
  });
  router.get("/readyz", [this](Context& context) { return ready(context); });
  router.get("/metrics", http::metrics_endpoint(metrics_));
  router.get(http::openapi_route, http::openapi_endpoint(openapi_document()));
  // Injected latency and errors reach the API routes only, as in apimon;
  // each names its route template, which the faults' route setting may pick.
  router.get("/pokemon/{id}", faults::with_faults(faults_, "/pokemon/{id}", guarded(&ApiPrometheus::pokemon)));
  router.get("/battle/{first}/{second}",
             faults::with_faults(faults_, "/battle/{first}/{second}", guarded(&ApiPrometheus::battle)));
  router.get("/team/{size}", faults::with_faults(faults_, "/team/{size}", guarded(&ApiPrometheus::team)));
}

http::Handler ApiPrometheus::guarded(asio::awaitable<Response> (ApiPrometheus::*handler)(Context&)) {
  return [this, handler](Context& context) -> asio::awaitable<Response> {
    std::optional<UpstreamError> failure;
    try {
      co_return co_await (this->*handler)(context);
    } catch (const UpstreamError& error) {
      failure = error;
    }
    context.span.set_attribute("upstream.failure", failure->what());
    co_return http::problem(failure->answer(),
                            failure->answer() == status::gateway_timeout ? "apimon did not answer in time."
                                                                         : "apimon could not be reached or failed.",
                            context.request.version());
  };
}

// One upstream lookup, passed through when apimon says 400 or 404.
static asio::awaitable<json::object> fetch_pokemon(Upstream& upstream, prometheus::Summary& sizes,
                                                   const http::RequestContext& context, std::string target) {
  auto answer = co_await upstream.get(context, std::move(target));
  sizes.Observe(static_cast<double>(answer.body.size()));
  if (answer.status == 404) throw ProblemError(status::not_found, "No Pokémon has this National Pokédex number.");
  if (answer.status != 200) throw ProblemError(status::bad_request, "apimon refused the request.");
  boost::system::error_code ec;
  auto parsed = json::parse(answer.body, ec);
  if (ec || !parsed.is_object()) throw UpstreamError(status::bad_gateway, "apimon answered something that is not JSON");
  co_return std::move(parsed.as_object());
}

asio::awaitable<http::Response> ApiPrometheus::pokemon(Context& context) {
  const int id = pokedex_id(context.params.get("id"));
  const auto started = std::chrono::steady_clock::now();
  auto pokemon = co_await fetch_pokemon(upstream_, upstream_body_size_, context, "/pokemon/" + std::to_string(id));
  const double took_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  pokemon["total_base_stats"] = total_base_stats(pokemon);
  pokemon["upstream"] = {{"service", "apimon"}, {"duration_ms", std::round(took_ms * 1000) / 1000}};
  co_return json_response(context.request, json::serialize(pokemon));
}

asio::awaitable<http::Response> ApiPrometheus::battle(Context& context) {
  const std::array<int, 2> ids = {pokedex_id(context.params.get("first")), pokedex_id(context.params.get("second"))};
  auto fighters = co_await gather<json::object>(2, [&](std::size_t i) {
    return fetch_pokemon(upstream_, upstream_body_size_, context, "/pokemon/" + std::to_string(ids[i]));
  });
  auto decision = context.start_span("decide battle");
  const std::int64_t first = total_base_stats(fighters[0]);
  const std::int64_t second = total_base_stats(fighters[1]);
  const char* outcome = first > second ? "first" : second > first ? "second" : "draw";
  decision.set_attribute("battle.outcome", outcome);
  decision.end();
  battles_.Add({{"outcome", outcome}}).Increment();

  std::string body;
  json_writer::Writer out(body);
  out.begin_object();
  for (std::size_t i = 0; i < 2; ++i) {
    out.key(i == 0 ? "first" : "second")
        .begin_object()
        .member("id", static_cast<std::int64_t>(fighters[i].at("id").as_int64()))
        .member("name", std::string_view(fighters[i].at("name").as_string()))
        .member("total_base_stats", i == 0 ? first : second)
        .end_object();
  }
  out.member("outcome", outcome).member("rule", "the higher sum of base stats wins").end_object();
  co_return json_response(context.request, std::move(body));
}

asio::awaitable<http::Response> ApiPrometheus::team(Context& context) {
  const auto size = text::parse_bounded_int(context.params.get("size"), 1, max_team_size_);
  if (!size)
    throw ProblemError(status::bad_request,
                       "A team has from 1 to " + std::to_string(max_team_size_) + " Pokémon, such as /team/6.");
  teams_in_progress_.Increment();
  struct Done {
    prometheus::Gauge& gauge;
    ~Done() { gauge.Decrement(); }
  } done{teams_in_progress_};
  auto members = co_await gather<json::object>(static_cast<std::size_t>(*size), [&](std::size_t) {
    return fetch_pokemon(upstream_, upstream_body_size_, context, "/pokemon/random");
  });
  std::int64_t total = 0;
  std::string body;
  json_writer::Writer out(body);
  out.begin_object().member("size", *size).key("members").begin_array();
  for (const auto& member : members) {
    const auto strength = total_base_stats(member);
    total += strength;
    out.begin_object()
        .member("id", static_cast<std::int64_t>(member.at("id").as_int64()))
        .member("name", std::string_view(member.at("name").as_string()))
        .member("total_base_stats", strength)
        .end_object();
  }
  out.end_array().member("total_base_stats", total).end_object();
  team_strength_.Observe(static_cast<double>(total));
  co_return json_response(context.request, std::move(body));
}

asio::awaitable<http::Response> ApiPrometheus::ready(Context& context) {
  // Awaited into a variable, not inside the condition: GCC 12 mishandles
  // temporaries of a co_await written in an if condition.
  const bool upstream_ready = co_await upstream_.ready(context);
  if (upstream_ready) co_return json_response(context.request, R"({"status":"ready"})");
  co_return http::unavailable("apimon is not reachable or not ready.", std::chrono::seconds(5),
                              context.request.version());
}

}  // namespace api_prometheus
