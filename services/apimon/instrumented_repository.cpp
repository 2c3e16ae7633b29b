#include "instrumented_repository.hpp"

#include <pokedex/queries.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>

namespace apimon {

const std::array<InstrumentedRepository::Operation, InstrumentedRepository::operation_count>
    InstrumentedRepository::operations = {{
        {"SELECT pokedex_entries", "SELECT", "pokedex_entries", pokedex::queries::find_pokemon},
        {"SELECT pokedex_entries", "SELECT", "pokedex_entries", pokedex::queries::search_by_name},
        {"SELECT pokedex_entries", "SELECT", "pokedex_entries", pokedex::queries::list_by_type},
        {"SELECT pokedex_entries", "SELECT", "pokedex_entries", pokedex::queries::list_by_generation},
        {"SELECT pokemon", "SELECT", "pokemon", pokedex::queries::max_pokemon_id},
        {"SELECT", "SELECT", "", pokedex::queries::ping},
    }};

InstrumentedRepository::InstrumentedRepository(pokedex::Repository& repository, metrics::MetricsRegistry& metrics,
                                               DatabaseDescription database, bool enabled,
                                               faults::FaultInjector* faults)
    : repository_(repository), database_(std::move(database)), enabled_(enabled), faults_(faults) {
  // Traced queries leave exemplars: a slow query on the graph links to its trace.
  auto& family = metrics.histogram_family(
      "db_client_operation_duration_seconds",
      "Duration of database client operations, from asking for a connection to the last row.",
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  for (std::size_t id = 0; id < operation_count; ++id) {
    for (std::size_t failed = 0; failed < 2; ++failed) {
      prometheus::Labels labels = {{"db_system_name", database_.system},
                                   {"db_operation_name", operations[id].operation},
                                   {"db_response_status", failed != 0 ? "error" : "ok"}};
      if (operations[id].collection[0] != '\0') labels.emplace("db_collection_name", operations[id].collection);
      duration_[id][failed] = &family.add(labels);
    }
  }
}

template <class Call>
auto InstrumentedRepository::traced(const http::RequestContext& context, OperationId id, Call call)
    -> decltype(call()) {
  if (!enabled_) {
    if (faults_ && faults_->any_active()) {
      trace::Span no_span;
      co_await injected_delay(no_span);
    }
    co_return co_await call();
  }
  const Operation& operation = operations[id];
  auto span = context.start_span(operation.span_name, trace::SpanKind::client);
  if (span.recording()) {
    span.set_attribute("db.system.name", database_.system)
        .set_attribute("db.namespace", database_.name)
        .set_attribute("db.operation.name", std::string(operation.operation))
        .set_attribute("db.query.text", std::string(operation.query_text));
    if (operation.collection[0] != '\0') span.set_attribute("db.collection.name", std::string(operation.collection));
    if (!database_.address.empty()) span.set_attribute("server.address", database_.address);
    if (database_.port != 0) span.set_attribute("server.port", static_cast<std::int64_t>(database_.port));
  }
  const auto started = std::chrono::steady_clock::now();
  if (faults_ && faults_->any_active()) co_await injected_delay(span);
  std::exception_ptr failure;
  try {
    auto result = co_await call();
    duration_[id][0]->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                              span.context());
    co_return result;
  } catch (const std::exception& error) {
    // Traces are for operators, so the span keeps the cause; clients never see it.
    span.set_status(trace::StatusCode::error, error.what());
    span.set_attribute("error.type", std::string("storage_unavailable"));
    failure = std::current_exception();
  }
  duration_[id][1]->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                            span.context());
  std::rethrow_exception(failure);
}

boost::asio::awaitable<void> InstrumentedRepository::injected_delay(trace::Span& span) {
  const auto delay = faults_->draw_slow_query();
  if (delay.count() == 0) co_return;
  span.set_attribute("fault_injection.injected", std::string("slow_queries"))
      .set_attribute("fault_injection.delay_ms", static_cast<std::int64_t>(delay.count()));
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

boost::asio::awaitable<std::optional<pokedex::Pokemon>> InstrumentedRepository::find_pokemon(
    const http::RequestContext& context, int id, pokedex::Language language) {
  // Not a coroutine itself: it hands traced()'s coroutine back, one frame per
  // call instead of two. The lambdas capture by value for the same reason:
  // this function returns before the call runs.
  return traced(context, find, [this, id, language] { return repository_.find_pokemon(id, language); });
}

boost::asio::awaitable<pokedex::Listing> InstrumentedRepository::search_by_name(const http::RequestContext& context,
                                                                                std::string prefix,
                                                                                pokedex::Language language,
                                                                                pokedex::Page page) {
  return traced(context, search, [this, prefix = std::move(prefix), language, page]() mutable {
    return repository_.search_by_name(std::move(prefix), language, page);
  });
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InstrumentedRepository::list_by_type(
    const http::RequestContext& context, std::string type, pokedex::Language language, pokedex::Page page) {
  return traced(context, by_type, [this, type = std::move(type), language, page]() mutable {
    return repository_.list_by_type(std::move(type), language, page);
  });
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InstrumentedRepository::list_by_generation(
    const http::RequestContext& context, int generation, pokedex::Language language, pokedex::Page page) {
  return traced(context, by_generation, [this, generation, language, page] {
    return repository_.list_by_generation(generation, language, page);
  });
}

boost::asio::awaitable<int> InstrumentedRepository::max_pokemon_id(const http::RequestContext& context) {
  return traced(context, max_id, [this] { return repository_.max_pokemon_id(); });
}

boost::asio::awaitable<void> InstrumentedRepository::ping(const http::RequestContext& context) {
  co_await traced(context, ping_id, [&]() -> boost::asio::awaitable<bool> {
    co_await repository_.ping();
    co_return true;
  });
}

}  // namespace apimon
