// otlp_sample: a fixed sample of two spans for checking the OTLP encoding and
// exporter against an independent decoder (tests/integration/test_otlp_exporter.py,
// which repeats every value below: change both together).
//
//   otlp_sample encode FILE          writes the ExportTraceServiceRequest bytes to FILE
//   otlp_sample export URL [--gzip]  exports the sample with OtlpHttpExporter
//
// `export` reads its options from the OTEL_EXPORTER_OTLP_* environment like a
// service would (headers, timeout, compression), then URL replaces the endpoint
// and --gzip turns compression on. It prints "exported N spans, R retries" and
// exits 0 on success, reports the failure and exits 1 otherwise; a usage error
// or an invalid variable exits 2.
#include <otlp/encoding.hpp>
#include <otlp/http_exporter.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using trace::Attributes;

struct Sample {
  trace::Resource resource;
  trace::InstrumentationScope scope;
  std::vector<trace::SpanData> spans;
};

Sample sample() {
  Sample s;
  s.resource.attributes = {{"service.name", std::string("otlp-sample")},
                           {"process.pid", std::int64_t{4242}},
                           {"sample.ratio", 0.25},
                           {"sample.enabled", true}};
  s.scope = {"otlp_sample", "1.0.0"};

  const trace::TraceId trace_id{
      {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}};
  const trace::SpanId root_id{{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}};
  const trace::SpanId child_id{{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31}};

  trace::SpanData root;
  root.trace_id = trace_id;
  root.span_id = root_id;
  root.trace_flags = 0x01;
  root.name = "GET /pokemon/{id}";
  root.kind = trace::SpanKind::server;
  root.start_unix_nano = 1'700'000'000'000'000'000;
  root.end_unix_nano = 1'700'000'000'250'000'000;
  root.attributes = {{"http.request.method", std::string("GET")},
                     {"url.path", std::string("/pokemon/25")},
                     {"sample.unicode", std::string("Pokémon")},
                     {"sample.empty", std::string()},
                     {"http.response.status_code", std::int64_t{200}},
                     {"sample.zero", std::int64_t{0}},
                     {"sample.negative", std::int64_t{-42}},
                     {"sample.max", std::numeric_limits<std::int64_t>::max()},
                     {"sample.min", std::numeric_limits<std::int64_t>::min()},
                     {"sample.double", 0.125},
                     {"sample.negative_double", -1.5e300},
                     {"sample.true", true},
                     {"sample.false", false}};
  root.events = {{"cache.miss",
                  1'700'000'000'010'000'000,
                  {{"cache.key", std::string("pokemon:25:en")},
                   {"cache.size", std::int64_t{128}},
                   {"cache.fill", 0.75},
                   {"cache.cold", true}}}};
  root.status = trace::StatusCode::ok;

  trace::SpanData child;
  child.trace_id = trace_id;
  child.span_id = child_id;
  child.parent_span_id = root_id;
  child.trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  child.trace_flags = 0x01;
  child.name = "SELECT pokedex_entries";
  child.kind = trace::SpanKind::client;
  child.start_unix_nano = 1'700'000'000'020'000'000;
  child.end_unix_nano = 1'700'000'000'220'000'000;
  child.attributes = {{"db.system", std::string("sqlite")}};
  child.status = trace::StatusCode::error;
  child.status_message = "database is locked";
  child.dropped_attributes = 3;
  child.dropped_events = 1;
  // One link to a span of another trace that came from another process, one
  // to a local span of the same trace; two more were only counted.
  trace::SpanContext remote_context;
  remote_context.trace_id = {
      {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c}};
  remote_context.span_id = {{0xb9, 0xc7, 0xc9, 0x89, 0xf9, 0x74, 0x83, 0xe2}};
  remote_context.trace_flags = 0x01;
  remote_context.trace_state = "congo=t61rcWkgMzE";
  remote_context.remote = true;
  trace::SpanContext local_context;
  local_context.trace_id = trace_id;
  local_context.span_id = root_id;
  child.links = {{remote_context, {{"db.operation.batch.size", std::int64_t{3}}}}, {local_context, {}}};
  child.dropped_links = 2;

  s.spans = {root, child};
  return s;
}

int usage() {
  std::cerr << "usage: otlp_sample encode FILE\n"
               "       otlp_sample export URL [--gzip]\n";
  return 2;
}

int encode(const std::string& path) {
  const auto s = sample();
  const auto bytes = otlp::encode_export_trace_request(s.resource, s.scope, s.spans);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::cerr << "otlp_sample: cannot write " << path << "\n";
    return 1;
  }
  return 0;
}

int export_sample(const std::string& url, bool gzip) {
  const auto s = sample();
  std::unique_ptr<otlp::OtlpHttpExporter> exporter;
  try {
    auto options = otlp::otlp_options_from_environment();
    options.endpoint = url;
    if (gzip) options.gzip = true;
    exporter = std::make_unique<otlp::OtlpHttpExporter>(std::move(options), s.resource, s.scope);
  } catch (const std::invalid_argument& error) {
    std::cerr << "otlp_sample: " << error.what() << "\n";
    return 2;
  }
  std::vector<const trace::SpanData*> batch;
  for (const auto& span : s.spans) batch.push_back(&span);
  const auto result = exporter->export_spans(batch);
  const auto& stats = exporter->stats();
  if (result != trace::ExportResult::success) {
    std::cerr << "otlp_sample: export failed after " << stats.retries << " retries\n";
    return 1;
  }
  std::cout << "exported " << stats.exported_spans << " spans, " << stats.retries << " retries\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_st("otlp_sample"));
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  try {
    if (args.size() == 2 && args[0] == "encode") return encode(std::string(args[1]));
    if ((args.size() == 2 || (args.size() == 3 && args[2] == "--gzip")) && args[0] == "export")
      return export_sample(std::string(args[1]), args.size() == 3);
    return usage();
  } catch (const std::exception& error) {
    std::cerr << "otlp_sample: " << error.what() << "\n";
    return 1;
  }
}
