#include "load_generator.hpp"

#include <logging/logging.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pokeload {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The same buckets as http_client_request_duration_seconds, so the two can be
// compared bucket by bucket.
const std::vector<double> latency_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};

double seconds_between(LoadGenerator::Clock::time_point from, LoadGenerator::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

LoadGenerator::LoadGenerator(const asio::any_io_executor& executor, http::Client& client, trace::Tracer* tracer,
                             metrics::MetricsRegistry& metrics, RequestPicker picker, LoadOptions options)
    : executor_(executor),
      client_(client),
      tracer_(tracer),
      picker_(std::move(picker)),
      options_(std::move(options)),
      random_(options_.seed),
      in_flight_gauge_(prometheus::BuildGauge()
                           .Name("pokeload_requests_in_flight")
                           .Help("Requests sent and not yet answered: grows when the target slows down, up to "
                                 "--max-in-flight.")
                           .Register(metrics.registry())
                           .Add({})),
      dropped_counter_(prometheus::BuildCounter()
                           .Name("pokeload_dropped_arrivals_total")
                           .Help("Scheduled requests not sent because --max-in-flight requests were already "
                                 "waiting: load the target could not absorb.")
                           .Register(metrics.registry())
                           .Add({})),
      target_rate_gauge_(prometheus::BuildGauge()
                             .Name("pokeload_target_requests_per_second")
                             .Help("The request rate the schedule asks for now.")
                             .Register(metrics.registry())
                             .Add({})),
      arrival_timer_(executor),
      drain_timer_(executor),
      report_timer_(executor) {
  auto& requests = prometheus::BuildCounter()
                       .Name("pokeload_requests_total")
                       .Help("Requests sent, by the route template they target and how they ended: the status "
                             "class of the response, timeout, or error (no HTTP answer).")
                       .Register(metrics.registry());
  auto& latency = metrics.histogram_family(
      "pokeload_request_duration_seconds",
      "Latency as a user of an open system sees it: from the scheduled send time to the response, so time spent "
      "waiting to be sent counts (no coordinated omission). Compare http_client_request_duration_seconds, "
      "measured from the actual send.",
      latency_buckets);
  // Series are looked up once: only the kinds this run can send.
  std::vector<RequestKind> kinds;
  for (const MixEntry& entry : picker_.mix()) kinds.push_back(entry.kind);
  kinds.push_back(RequestKind::invalid_id);
  kinds.push_back(RequestKind::unknown_id);
  for (const RequestKind kind : kinds) {
    Series& series = series_[index(kind)];
    const std::string route(route_template(kind));
    for (std::size_t i = 0; i < outcome_count; ++i)
      series.requests[i] = &requests.Add({{"http_route", route}, {"outcome", std::string(outcome_names[i])}});
    series.latency = &latency.add({{"http_route", route}});
    series.span_name = "GET " + route;
  }
}

double LoadGenerator::next_increment() { return options_.poisson ? exponential_(random_) : 1.0; }

double LoadGenerator::elapsed_seconds() const {
  const auto end = std::max(arrivals_ended_, last_send_);
  return end > started_ ? seconds_between(started_, end) : 0.0;
}

asio::awaitable<void> LoadGenerator::run() {
  started_ = Clock::now();
  arrivals_ended_ = started_;
  if (options_.report_interval.count() > 0) asio::co_spawn(executor_, report_periodically(), asio::detached);
  const double duration = std::chrono::duration<double>(options_.duration).count();
  // Even arrivals sit half a gap into each interval: n + 1/2 expected arrivals.
  double expected = options_.poisson ? next_increment() : 0.5;
  while (!stopping_) {
    const double at = options_.schedule.time_of(expected);
    if (duration > 0 && at >= duration) break;
    const auto scheduled = started_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
    arrival_timer_.expires_at(scheduled);
    [[maybe_unused]] auto [ignored] = co_await arrival_timer_.async_wait(use_tuple);
    if (stopping_) break;  // stopped while waiting: this arrival was never due
    expected += next_increment();
    arrive(scheduled);
  }
  arrivals_ended_ = stopping_ ? Clock::now() : started_ + options_.duration;
  report_timer_.cancel();
  target_rate_gauge_.Set(0);

  // The stragglers get their own deadline: a connection attempt and an
  // exchange, and once more for a kept-alive connection the server had closed.
  if (in_flight_ > 0) {
    draining_ = true;
    drain_timer_.expires_after(3 * options_.timeout + std::chrono::seconds(1));
    [[maybe_unused]] auto [ignored] = co_await drain_timer_.async_wait(use_tuple);
  }
}

void LoadGenerator::stop() {
  stopping_ = true;
  arrival_timer_.cancel();
}

void LoadGenerator::arrive(Clock::time_point scheduled) {
  ++stats_.counters.due;
  target_rate_gauge_.Set(options_.schedule.rate_at(seconds_between(started_, scheduled)));
  if (in_flight_ >= options_.max_in_flight) {
    ++stats_.counters.dropped;
    dropped_counter_.Increment();
    return;
  }
  const RequestKind kind = picker_.pick(random_, target_buffer_);
  ++in_flight_;
  in_flight_gauge_.Increment();
  asio::co_spawn(executor_, send(kind, target_buffer_, scheduled), asio::detached);
}

asio::awaitable<void> LoadGenerator::send(RequestKind kind, std::string target, Clock::time_point scheduled) {
  const Series& series = series_[index(kind)];
  trace::Span span = tracer_ ? tracer_->start_span(series.span_name, trace::SpanKind::internal) : trace::Span{};
  const auto now = Clock::now();
  if (now - scheduled > stats_.max_send_lag) stats_.max_send_lag = now - scheduled;
  last_send_ = now;
  ++stats_.counters.sent;
  ++stats_.counters.sent_by_kind[index(kind)];
  if (span.recording()) {
    span.set_attribute("pokeload.request.kind", kind_name(kind))
        .set_attribute("http.route", route_template(kind))
        .set_attribute("pokeload.send_lag_ms", std::chrono::duration<double, std::milli>(now - scheduled).count());
  }
  http::Request request{http::verb::get, target, 11};
  Outcome outcome = Outcome::error;
  unsigned status = 0;
  try {
    const trace::SpanContext* parent = span.context().valid() ? &span.context() : nullptr;
    const http::Response response = co_await client_.send(options_.target.host, options_.target.port,
                                                          std::move(request), parent);
    status = response.result_int();
    outcome = outcome_of_status(status);
    if (outcome == Outcome::server_error || outcome == Outcome::error)
      span.set_status(trace::StatusCode::error, "the target answered " + std::to_string(status));
  } catch (const http::ClientError& error) {
    outcome = error.timed_out() ? Outcome::timeout : Outcome::error;
    span.set_status(trace::StatusCode::error, error.what());
  } catch (const std::exception& error) {  // anything else: counted, never the end of a run that lasts for ever
    span.set_status(trace::StatusCode::error, error.what());
  }
  finish(kind, outcome, status, scheduled, span);
}

void LoadGenerator::finish(RequestKind kind, Outcome outcome, unsigned status, Clock::time_point scheduled,
                           const trace::Span& span) {
  const auto latency = Clock::now() - scheduled;
  const Series& series = series_[index(kind)];
  Counters& counters = stats_.counters;
  const auto which = static_cast<std::size_t>(outcome);
  ++counters.outcomes[which];
  ++counters.outcomes_by_kind[index(kind)][which];
  series.requests[which]->Increment();
  if (outcome != Outcome::timeout && outcome != Outcome::error) {
    if (status < counters.statuses.size()) ++counters.statuses[status];
    stats_.latency.record(latency);
    interval_latency_.record(latency);
    const double seconds = std::chrono::duration<double>(latency).count();
    series.latency->observe(seconds, span.context());
  }
  --in_flight_;
  in_flight_gauge_.Decrement();
  if (draining_ && in_flight_ == 0) drain_timer_.cancel();
}

asio::awaitable<void> LoadGenerator::report_periodically() {
  auto due = started_;
  auto previous = started_;
  for (;;) {
    due += options_.report_interval;
    report_timer_.expires_at(due);
    auto [error] = co_await report_timer_.async_wait(use_tuple);
    if (error) co_return;  // the run is over: the summary follows
    const auto now = Clock::now();
    const double elapsed = seconds_between(started_, now);
    const std::string members = report_members(elapsed, seconds_between(previous, now),
                                               options_.schedule.rate_at(elapsed), stats_.counters, reported_,
                                               interval_latency_, in_flight_);
    logging::log_fields(spdlog::level::info, "report", members);
    reported_ = stats_.counters;
    interval_latency_.reset();
    previous = now;
  }
}

}  // namespace pokeload
