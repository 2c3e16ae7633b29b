#include "instrumented_repository.hpp"

#include <pokedex/queries.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <span>
#include <vector>

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
    const Operation& operation = operations[id];
    span_attributes_[id] = &span_attributes(operation.operation, operation.collection, operation.query_text);
    for (std::size_t failed = 0; failed < 2; ++failed) {
      prometheus::Labels labels = {{"db_system_name", database_.system},
                                   {"db_operation_name", operation.operation},
                                   {"db_response_status", failed != 0 ? "error" : "ok"}};
      if (operation.collection[0] != '\0') labels.emplace("db_collection_name", operation.collection);
      duration_[id][failed] = &family.add(labels);
    }
  }
  batch_span_attributes_ = &span_attributes("BATCH SELECT", "pokedex_entries", nullptr);
  // Its count is the queries, its sum the lookups they answered: sum / count
  // is how many requests one query serves, and a count growing slower than
  // the request rate shows concurrent lookups sharing queries.
  lookups_per_query_ = &metrics
                            .histogram_family("db_client_operation_batch_size",
                                              "Lookups by id answered by one database query: 1 when a lookup "
                                              "queried alone, more when concurrent lookups shared a query.",
                                              {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})
                            .add({{"db_system_name", database_.system},
                                  {"db_operation_name", "SELECT"},
                                  {"db_collection_name", "pokedex_entries"}});
}

const trace::SharedAttributes& InstrumentedRepository::span_attributes(const char* operation, const char* collection,
                                                                       const char* query_text) const {
  trace::Attributes attributes = {{"db.system.name", database_.system},
                                  {"db.namespace", database_.name},
                                  {"db.operation.name", std::string(operation)}};
  // Appended from initializer lists: GCC 12 warns (falsely) that moving a
  // temporary Attribute's variant may read it uninitialized.
  if (query_text != nullptr) attributes.insert(attributes.end(), {{"db.query.text", std::string(query_text)}});
  if (collection[0] != '\0') attributes.insert(attributes.end(), {{"db.collection.name", std::string(collection)}});
  if (!database_.address.empty()) attributes.insert(attributes.end(), {{"server.address", database_.address}});
  if (database_.port != 0)
    attributes.insert(attributes.end(), {{"server.port", static_cast<std::int64_t>(database_.port)}});
  return trace::SharedAttributes::intern(attributes);
}

// A lookup's database span as the storage sees it. A query answering several
// lookups gets a span of its own, named after the semantic conventions'
// batches ("BATCH SELECT pokedex_entries", db.operation.batch.size). It is a
// child of the first sampled lookup's span: it lies within that span, and is
// sampled whenever one of its lookups is (a root span would draw its own
// sampling decision, and sampled requests would often link to a span never
// kept). Every other sampled lookup's span links to it and it links back to
// each: Jaeger shows links as references on the span, so the trace of any
// request in the batch leads to the shared query, and the shared query, one
// click away, to every request it answered.
class InstrumentedRepository::TracedLookup final : public pokedex::LookupObserver {
 public:
  TracedLookup(InstrumentedRepository& repository, const http::RequestContext& context, trace::Span& span)
      : repository_(repository), context_(context), span_(span) {}

  void query_started(const Query& query, std::span<LookupObserver* const> others) override {
    if (query.lookups > 1 && context_.tracer) start_shared_span(query, others);
    repository_.lookups_per_query_->observe(static_cast<double>(query.lookups),
                                            query.lookups > 1 ? shared_.context() : span_.context());
  }

  void query_ended(const std::exception* error) override {
    if (error) {
      shared_.set_status(trace::StatusCode::error, error->what());
      shared_.set_attribute("error.type", "storage_unavailable");
    }
    shared_.end();
  }

 private:
  void start_shared_span(const Query& query, std::span<LookupObserver* const> others) {
    std::vector<TracedLookup*> sampled;
    if (span_.recording()) sampled.push_back(this);
    for (LookupObserver* other : others) {
      auto* lookup = dynamic_cast<TracedLookup*>(other);
      if (lookup && lookup->span_.recording()) sampled.push_back(lookup);
    }
    if (sampled.empty()) return;
    shared_ = context_.tracer->start_span("BATCH SELECT pokedex_entries", trace::SpanKind::client,
                                          sampled.front()->span_);
    shared_.set_attributes(*repository_.batch_span_attributes_)
        .set_attribute("db.operation.batch.size", static_cast<std::int64_t>(query.lookups))
        .set_attribute("db.query.text", query.query_text);
    for (std::size_t i = 1; i < sampled.size(); ++i) {
      shared_.add_link(sampled[i]->span_.context());
      sampled[i]->span_.add_link(shared_.context());
    }
  }

  InstrumentedRepository& repository_;
  const http::RequestContext& context_;
  trace::Span& span_;   // the lookup's own database span
  trace::Span shared_;  // the shared query's, when this lookup started one
};

template <class Call>
auto InstrumentedRepository::traced(const http::RequestContext& context, OperationId id, Call call)
    -> decltype(call(nullptr)) {
  if (!enabled_) {
    if (faults_ && faults_->any_active()) {
      trace::Span no_span;
      co_await injected_delay(no_span);
    }
    co_return co_await call(nullptr);
  }
  const Operation& operation = operations[id];
  // One reading starts both the span and the duration metric, one ends both.
  const auto started = std::chrono::steady_clock::now();
  auto span = context.start_span(operation.span_name, trace::SpanKind::client, started);
  span.set_attributes(*span_attributes_[id]);
  if (faults_ && faults_->any_active()) co_await injected_delay(span);
  std::exception_ptr failure;
  TracedLookup lookup(*this, context, span);
  try {
    auto result = co_await call(&lookup);
    const auto finished = std::chrono::steady_clock::now();
    duration_[id][0]->observe(std::chrono::duration<double>(finished - started).count(), span.context());
    span.end(finished);
    co_return result;
  } catch (const std::exception& error) {
    // Traces are for operators, so the span keeps the cause; clients never see it.
    span.set_status(trace::StatusCode::error, error.what());
    span.set_attribute("error.type", "storage_unavailable");
    failure = std::current_exception();
  }
  const auto finished = std::chrono::steady_clock::now();
  duration_[id][1]->observe(std::chrono::duration<double>(finished - started).count(), span.context());
  span.end(finished);
  std::rethrow_exception(failure);
}

boost::asio::awaitable<void> InstrumentedRepository::injected_delay(trace::Span& span) {
  const auto delay = faults_->draw_slow_query();
  if (delay.count() == 0) co_return;
  span.set_attribute("fault_injection.injected", "slow_queries")
      .set_attribute("fault_injection.delay_ms", static_cast<std::int64_t>(delay.count()));
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

boost::asio::awaitable<std::optional<pokedex::Pokemon>> InstrumentedRepository::find_pokemon(
    const http::RequestContext& context, int id, pokedex::Language language) {
  // Not a coroutine itself: it hands traced()'s coroutine back, one frame per
  // call instead of two. The lambdas capture by value for the same reason:
  // this function returns before the call runs.
  return traced(context, find, [this, id, language](pokedex::LookupObserver* observer) {
    return observer ? repository_.find_pokemon_observed(id, language, *observer)
                    : repository_.find_pokemon(id, language);
  });
}

boost::asio::awaitable<pokedex::Listing> InstrumentedRepository::search_by_name(const http::RequestContext& context,
                                                                                std::string prefix,
                                                                                pokedex::Language language,
                                                                                pokedex::Page page) {
  return traced(context, search, [this, prefix = std::move(prefix), language, page](pokedex::LookupObserver*) mutable {
    return repository_.search_by_name(std::move(prefix), language, page);
  });
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InstrumentedRepository::list_by_type(
    const http::RequestContext& context, std::string type, pokedex::Language language, pokedex::Page page) {
  return traced(context, by_type, [this, type = std::move(type), language, page](pokedex::LookupObserver*) mutable {
    return repository_.list_by_type(std::move(type), language, page);
  });
}

boost::asio::awaitable<std::optional<pokedex::Listing>> InstrumentedRepository::list_by_generation(
    const http::RequestContext& context, int generation, pokedex::Language language, pokedex::Page page) {
  return traced(context, by_generation, [this, generation, language, page](pokedex::LookupObserver*) {
    return repository_.list_by_generation(generation, language, page);
  });
}

boost::asio::awaitable<int> InstrumentedRepository::max_pokemon_id(const http::RequestContext& context) {
  return traced(context, max_id, [this](pokedex::LookupObserver*) { return repository_.max_pokemon_id(); });
}

boost::asio::awaitable<void> InstrumentedRepository::ping(const http::RequestContext& context) {
  co_await traced(context, ping_id, [&](pokedex::LookupObserver*) -> boost::asio::awaitable<bool> {
    co_await repository_.ping();
    co_return true;
  });
}

}  // namespace apimon
