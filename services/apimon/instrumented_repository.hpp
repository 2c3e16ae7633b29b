#pragma once
// The Pokédex repository seen through telemetry: every call becomes a CLIENT
// span under the request's span (with the database semantic-convention
// attributes and the query text with its placeholders, never its values) and
// an observation of db_client_operation_duration_seconds. A lookup answered
// by a query shared with other lookups (MySQL batches) links to that query's
// own span, and each query is counted in db_client_operation_batch_size.
#include <faults/fault_injector.hpp>
#include <http/message.hpp>
#include <metrics/registry.hpp>
#include <pokedex/repository.hpp>

#include <array>
#include <string>

namespace apimon {

struct DatabaseDescription {
  std::string system;   // db.system.name: "sqlite" or "mariadb"
  std::string name;     // db.namespace
  std::string address;  // server.address ("" for the embedded database)
  int port = 0;         // server.port (0: none)
};

class InstrumentedRepository {
 public:
  // `enabled` false passes calls straight through: no spans, no timing.
  // `faults` (may be null) slows queries down when the slow_queries fault is on.
  InstrumentedRepository(pokedex::Repository& repository, metrics::MetricsRegistry& metrics,
                         DatabaseDescription database, bool enabled = true, faults::FaultInjector* faults = nullptr);

  boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_pokemon(const http::RequestContext& context, int id,
                                                                       pokedex::Language language);
  boost::asio::awaitable<pokedex::Listing> search_by_name(const http::RequestContext& context, std::string prefix,
                                                          pokedex::Language language, pokedex::Page page);
  boost::asio::awaitable<std::optional<pokedex::Listing>> list_by_type(const http::RequestContext& context,
                                                                       std::string type, pokedex::Language language,
                                                                       pokedex::Page page);
  boost::asio::awaitable<std::optional<pokedex::Listing>> list_by_generation(const http::RequestContext& context,
                                                                             int generation, pokedex::Language language,
                                                                             pokedex::Page page);
  boost::asio::awaitable<int> max_pokemon_id(const http::RequestContext& context);
  boost::asio::awaitable<void> ping(const http::RequestContext& context);

  pokedex::Repository& repository() { return repository_; }

 private:
  enum OperationId : std::size_t { find, search, by_type, by_generation, max_id, ping_id, operation_count };
  struct Operation {
    const char* span_name;   // "{db.operation.name} {db.collection.name}"
    const char* operation;   // db.operation.name
    const char* collection;  // db.collection.name
    const char* query_text;  // db.query.text
  };
  static const std::array<Operation, operation_count> operations;

  class TracedLookup;

  // `call` gets the observer of the call's query, null when telemetry is off.
  template <class Call>
  auto traced(const http::RequestContext& context, OperationId id, Call call) -> decltype(call(nullptr));
  // The slow_queries fault: waits before the query runs, inside its span.
  boost::asio::awaitable<void> injected_delay(trace::Span& span);

  pokedex::Repository& repository_;
  DatabaseDescription database_;
  bool enabled_;
  faults::FaultInjector* faults_;
  // Every series made up front: [operation][0 = success, 1 = error].
  std::array<std::array<metrics::ExemplarHistogram*, 2>, operation_count> duration_{};
  // A database span's attributes that are the same for every query of its
  // operation; no query text when it varies (null).
  const trace::SharedAttributes& span_attributes(const char* operation, const char* collection,
                                                 const char* query_text) const;
  std::array<const trace::SharedAttributes*, operation_count> span_attributes_{};
  const trace::SharedAttributes* batch_span_attributes_ = nullptr;  // a query shared by lookups
  metrics::ExemplarHistogram* lookups_per_query_ = nullptr;
};

}  // namespace apimon
