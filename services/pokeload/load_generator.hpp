#pragma once
// The open-model load loop: each arrival is sent at its scheduled time
// whether or not earlier requests have been answered, so concurrency grows
// when the server slows down, up to --max-in-flight; an arrival beyond that
// is dropped and counted, never silently skipped. Latency is measured from
// the scheduled time, not from when the request left, so a stalled sender
// cannot hide a slow server (no coordinated omission).
#include "run_stats.hpp"
#include "schedule.hpp"
#include "workload.hpp"

#include <http/client.hpp>
#include <http/url.hpp>
#include <metrics/registry.hpp>
#include <trace/tracer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <chrono>
#include <random>
#include <string>

namespace pokeload {

struct LoadOptions {
  http::HostPort target;
  Schedule schedule{5.0};
  bool poisson = false;                  // exponential gaps instead of even ones
  std::chrono::nanoseconds duration{0};  // 0: until stop()
  std::size_t max_in_flight = 512;
  std::chrono::milliseconds timeout{2'000};     // of one request (the client's deadline)
  std::chrono::nanoseconds report_interval{0};  // 0: no periodic report
  std::uint64_t seed = 0;
};

class LoadGenerator {
 public:
  using Clock = std::chrono::steady_clock;

  // `tracer` may be null (no spans). Every object passed must outlive the generator.
  LoadGenerator(const boost::asio::any_io_executor& executor, http::Client& client, trace::Tracer* tracer,
                metrics::MetricsRegistry& metrics, RequestPicker picker, LoadOptions options);

  // Sends arrivals until the duration ends or stop() is called, then waits
  // for the requests still in flight (within a bound derived from the
  // timeout). Runs on the executor given.
  boost::asio::awaitable<void> run();
  // On the generator's executor: no arrival after this one.
  void stop();

  const RunStats& stats() const { return stats_; }
  std::size_t in_flight() const { return in_flight_; }
  // From the start to the end of the arrivals, or to the last send if later.
  double elapsed_seconds() const;

 private:
  struct Series {
    std::array<prometheus::Counter*, outcome_count> requests{};
    metrics::ExemplarHistogram* latency = nullptr;
    std::string span_name;
  };

  void arrive(Clock::time_point scheduled);
  boost::asio::awaitable<void> send(RequestKind kind, std::string target, Clock::time_point scheduled);
  void finish(RequestKind kind, Outcome outcome, unsigned status, Clock::time_point scheduled, const trace::Span& span);
  boost::asio::awaitable<void> report_periodically();
  double next_increment();

  boost::asio::any_io_executor executor_;
  http::Client& client_;
  trace::Tracer* tracer_;
  RequestPicker picker_;
  LoadOptions options_;
  std::mt19937_64 random_;
  std::exponential_distribution<double> exponential_{1.0};

  std::array<Series, request_kind_count> series_;
  prometheus::Gauge& in_flight_gauge_;
  prometheus::Counter& dropped_counter_;
  prometheus::Gauge& target_rate_gauge_;

  boost::asio::steady_timer arrival_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer report_timer_;
  bool stopping_ = false;
  bool draining_ = false;
  Clock::time_point started_{};
  Clock::time_point arrivals_ended_{};
  Clock::time_point last_send_{};
  std::size_t in_flight_ = 0;
  std::string target_buffer_;

  RunStats stats_;
  LatencyHistogram interval_latency_;
  Counters reported_;
};

}  // namespace pokeload
