// The cost of tracing on the request path: starting and ending a span that is
// sampled (recorded, handed to the batch processor) and one that is not.
#include <trace/batch_span_processor.hpp>
#include <trace/tracer.hpp>

#include <benchmark/benchmark.h>

namespace {

// Accepts everything at once: the benchmark measures the request path, not the export.
class DiscardingExporter final : public trace::SpanExporter {
 public:
  trace::ExportResult export_spans(trace::SpanBatch) override { return trace::ExportResult::success; }
};

trace::Tracer make_tracer(std::unique_ptr<trace::Sampler> sampler) {
  trace::BatchSpanProcessorOptions options;
  options.max_queue_size = 1 << 16;
  options.max_export_batch_size = 512;
  options.schedule_delay = std::chrono::milliseconds(50);
  return trace::Tracer({}, {"bench", "1"}, std::move(sampler),
                       std::make_unique<trace::BatchSpanProcessor>(std::make_unique<DiscardingExporter>(), options));
}

void span_sampled(benchmark::State& state) {
  auto tracer = make_tracer(trace::always_on_sampler());
  for (auto _ : state) {
    auto span = tracer.start_span("GET /pokemon/{id}", trace::SpanKind::server);
    span.end();
  }
}
BENCHMARK(span_sampled);

void span_sampled_with_parent_and_attributes(benchmark::State& state) {
  auto tracer = make_tracer(trace::always_on_sampler());
  const auto parent = *trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  for (auto _ : state) {
    auto span = tracer.start_span("SELECT pokedex_entries", trace::SpanKind::client, &parent);
    span.set_attribute("db.system.name", "mariadb").set_attribute("server.port", std::int64_t{3306});
    span.end();
  }
}
BENCHMARK(span_sampled_with_parent_and_attributes);

void span_sampled_out(benchmark::State& state) {
  auto tracer = make_tracer(trace::parent_based_sampler(trace::trace_id_ratio_sampler(0.0)));
  for (auto _ : state) {
    auto span = tracer.start_span("GET /pokemon/{id}", trace::SpanKind::server);
    span.end();
  }
}
BENCHMARK(span_sampled_out);

void traceparent_parse(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}
BENCHMARK(traceparent_parse);

}  // namespace

BENCHMARK_MAIN();
