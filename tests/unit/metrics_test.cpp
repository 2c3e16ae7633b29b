#include "metrics/exposition.hpp"
#include "metrics/integer_histogram.hpp"
#include "metrics/process_collector.hpp"
#include "metrics/registry.hpp"
#include "trace/trace_context.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/summary.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using metrics::ExemplarHistogram;
using metrics::ExpositionFormat;
using metrics::MetricsRegistry;
using metrics::ProcessCollector;
using metrics::serialize;
using testing::HasSubstr;
using testing::Not;

constexpr auto text = ExpositionFormat::prometheus_text_0_0_4;
constexpr auto openmetrics = ExpositionFormat::openmetrics_1_0_0;

constexpr std::string_view first_trace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view first_span = "b7ad6b7169203331";
constexpr std::string_view second_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view second_span = "00f067aa0ba902b7";

double inf() { return std::numeric_limits<double>::infinity(); }

// A sampled span context with these identifiers, as a traced request carries.
trace::SpanContext traced(std::string_view trace_id, std::string_view span_id) {
  return *trace::parse_traceparent("00-" + std::string(trace_id) + "-" + std::string(span_id) + "-01");
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// As the exposition writes exemplar timestamps: Unix seconds, millisecond resolution.
std::string seconds_text(std::int64_t milliseconds) {
  std::string fraction = std::to_string(milliseconds % 1000);
  fraction.insert(0, 3 - fraction.size(), '0');
  return std::to_string(milliseconds / 1000) + "." + fraction;
}

// A collectable standing in for anything prometheus-cpp cannot build: an
// untyped family whose sample carries its own timestamp.
class UntypedCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = "sample_legacy_value";
    family.help = "A value of unknown type.";
    family.type = prometheus::MetricType::Untyped;
    auto& metric = family.metric.emplace_back();
    metric.untyped.value = 7;
    metric.timestamp_ms = 1700000000123;
    return {family};
  }
};

// One of each kind, with the label values and help texts that need escaping.
class SmallRegistry : public testing::Test {
 protected:
  SmallRegistry() {
    auto& requests =
        prometheus::BuildCounter().Name("sample_requests_total").Help("Requests handled.").Register(metrics.registry());
    requests.Add({}).Increment(3);

    auto& errors =
        prometheus::BuildCounter().Name("sample_errors_total").Help("Errors by kind.").Register(metrics.registry());
    errors.Add({{"kind", "timeout"}}).Increment(2);
    errors.Add({{"kind", "quote\"back\\slash\nnewline"}}).Increment();

    auto& temperature = prometheus::BuildGauge()
                            .Name("sample_temperature_celsius")
                            .Help("Temperature, with \\ and \"quotes\"\nover two lines.")
                            .Register(metrics.registry());
    temperature.Add({{"room", "kitchen"}}).Set(21.5);
    temperature.Add({{"room", "oven"}}).Set(inf());

    auto& durations = metrics.histogram_family("sample_request_duration_seconds", "Time to answer a request.",
                                               {0.25, 0.5, 1});
    series = &durations.add({{"route", "/pokemon/{id}"}});
    series->observe(0.125);
    series->observe(0.375, traced(first_trace, first_span));
    series->observe(0.5, traced(second_trace, second_span));  // same bucket, later: wins
    series->observe(2.5);

    auto& payloads =
        prometheus::BuildSummary().Name("sample_payload_bytes").Help("Payload sizes.").Register(metrics.registry());
    auto& payload = payloads.Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}});
    for (int i = 0; i < 3; ++i) payload.Observe(512);  // one value: every quantile estimate is exact

    metrics.add_collectable(std::make_shared<UntypedCollectable>());
  }

  std::string exemplar_timestamp() const { return seconds_text(series->exemplar(1)->timestamp_ms); }

  MetricsRegistry metrics;
  ExemplarHistogram* series = nullptr;
};

TEST_F(SmallRegistry, TextFormatIsExact) {
  EXPECT_EQ(serialize(metrics, text),
            "# HELP sample_errors_total Errors by kind.\n"
            "# TYPE sample_errors_total counter\n"
            "sample_errors_total{kind=\"quote\\\"back\\\\slash\\nnewline\"} 1\n"
            "sample_errors_total{kind=\"timeout\"} 2\n"
            "# HELP sample_legacy_value A value of unknown type.\n"
            "# TYPE sample_legacy_value untyped\n"
            "sample_legacy_value 7 1700000000123\n"
            "# HELP sample_payload_bytes Payload sizes.\n"
            "# TYPE sample_payload_bytes summary\n"
            "sample_payload_bytes{quantile=\"0.5\"} 512\n"
            "sample_payload_bytes{quantile=\"0.9\"} 512\n"
            "sample_payload_bytes_sum 1536\n"
            "sample_payload_bytes_count 3\n"
            "# HELP sample_request_duration_seconds Time to answer a request.\n"
            "# TYPE sample_request_duration_seconds histogram\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"0.25\"} 1\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"0.5\"} 3\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"1.0\"} 3\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"+Inf\"} 4\n"
            "sample_request_duration_seconds_sum{route=\"/pokemon/{id}\"} 3.5\n"
            "sample_request_duration_seconds_count{route=\"/pokemon/{id}\"} 4\n"
            "# HELP sample_requests_total Requests handled.\n"
            "# TYPE sample_requests_total counter\n"
            "sample_requests_total 3\n"
            "# HELP sample_temperature_celsius Temperature, with \\\\ and \"quotes\"\\nover two lines.\n"
            "# TYPE sample_temperature_celsius gauge\n"
            "sample_temperature_celsius{room=\"kitchen\"} 21.5\n"
            "sample_temperature_celsius{room=\"oven\"} +Inf\n");
}

TEST_F(SmallRegistry, OpenMetricsFormatIsExact) {
  EXPECT_EQ(serialize(metrics, openmetrics),
            "# TYPE sample_errors counter\n"
            "# HELP sample_errors Errors by kind.\n"
            "sample_errors_total{kind=\"quote\\\"back\\\\slash\\nnewline\"} 1\n"
            "sample_errors_total{kind=\"timeout\"} 2\n"
            "# TYPE sample_legacy_value unknown\n"
            "# HELP sample_legacy_value A value of unknown type.\n"
            "sample_legacy_value 7 1700000000.123\n"
            "# TYPE sample_payload_bytes summary\n"
            "# HELP sample_payload_bytes Payload sizes.\n"
            "sample_payload_bytes{quantile=\"0.5\"} 512\n"
            "sample_payload_bytes{quantile=\"0.9\"} 512\n"
            "sample_payload_bytes_sum 1536\n"
            "sample_payload_bytes_count 3\n"
            "# TYPE sample_request_duration_seconds histogram\n"
            "# HELP sample_request_duration_seconds Time to answer a request.\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"0.25\"} 1\n"
            "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"0.5\"} 3 "
            "# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.5 " +
                exemplar_timestamp() +
                "\n"
                "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"1.0\"} 3\n"
                "sample_request_duration_seconds_bucket{route=\"/pokemon/{id}\",le=\"+Inf\"} 4\n"
                "sample_request_duration_seconds_sum{route=\"/pokemon/{id}\"} 3.5\n"
                "sample_request_duration_seconds_count{route=\"/pokemon/{id}\"} 4\n"
                "# TYPE sample_requests counter\n"
                "# HELP sample_requests Requests handled.\n"
                "sample_requests_total 3\n"
                "# TYPE sample_temperature_celsius gauge\n"
                "# HELP sample_temperature_celsius Temperature, with \\\\ and \\\"quotes\\\"\\nover two lines.\n"
                "sample_temperature_celsius{room=\"kitchen\"} 21.5\n"
                "sample_temperature_celsius{room=\"oven\"} +Inf\n"
                "# EOF\n");
}

TEST_F(SmallRegistry, ExemplarTimestampIsRecent) {
  const auto exemplar = series->exemplar(1);
  ASSERT_TRUE(exemplar);
  EXPECT_LE(exemplar->timestamp_ms, now_ms());
  EXPECT_GT(exemplar->timestamp_ms, now_ms() - 60'000);
}

TEST_F(SmallRegistry, ExemplarsOnlyInOpenMetrics) {
  EXPECT_THAT(serialize(metrics, text), Not(HasSubstr(" # {")));
  const auto exposition = serialize(metrics, openmetrics);
  const auto first = exposition.find(" # {");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(exposition.find(" # {", first + 1), std::string::npos) << "one traced bucket, one exemplar";
}

TEST_F(SmallRegistry, SerializeReusesTheBuffer) {
  std::string buffer(1 << 16, 'x');
  const auto capacity = buffer.capacity();
  serialize(metrics, openmetrics, buffer);
  EXPECT_EQ(buffer, serialize(metrics, openmetrics));
  EXPECT_EQ(buffer.capacity(), capacity);
}

// ------------------------------------------------------------- exemplars ---

TEST(ExemplarHistogram, ValueFallsInTheFirstBucketWhoseBoundIsNotBelowIt) {
  MetricsRegistry metrics;
  auto& series = metrics.histogram_family("x_seconds", "X.", {1, 2, 5}).add({});
  EXPECT_EQ(series.bucket_count(), 4u);
  EXPECT_EQ(series.bucket_index(-3), 0u);
  EXPECT_EQ(series.bucket_index(1), 0u);
  EXPECT_EQ(series.bucket_index(1.5), 1u);
  EXPECT_EQ(series.bucket_index(2), 1u);
  EXPECT_EQ(series.bucket_index(5), 2u);
  EXPECT_EQ(series.bucket_index(5.1), 3u);
  EXPECT_EQ(series.bucket_index(inf()), 3u);
  EXPECT_EQ(series.bucket_index(std::nan("")), 3u);
}

TEST(ExemplarHistogram, ObserveWithoutTraceKeepsNoExemplar) {
  MetricsRegistry metrics;
  auto& series = metrics.histogram_family("x_seconds", "X.", {1, 2}).add({});
  series.observe(0.5);
  series.observe(1.5);
  series.observe(9);
  for (std::size_t bucket = 0; bucket < series.bucket_count(); ++bucket) EXPECT_FALSE(series.exemplar(bucket));
  EXPECT_THAT(serialize(metrics, openmetrics), Not(HasSubstr("# {")));
  EXPECT_THAT(serialize(metrics, openmetrics), HasSubstr("x_seconds_count 3\n"));
}

TEST(ExemplarHistogram, ExemplarGoesToTheBucketTheValueFellInAndTheLatestWins) {
  MetricsRegistry metrics;
  auto& series = metrics.histogram_family("x_seconds", "X.", {1, 2}).add({});
  series.observe(1.5, traced(first_trace, first_span));
  series.observe(7, traced(first_trace, first_span));
  series.observe(1.25, traced(second_trace, second_span));

  EXPECT_FALSE(series.exemplar(0));
  const auto second_bucket = series.exemplar(1);
  ASSERT_TRUE(second_bucket);
  EXPECT_EQ(second_bucket->trace_id.hex(), second_trace);
  EXPECT_EQ(second_bucket->span_id.hex(), second_span);
  EXPECT_EQ(second_bucket->value, 1.25);
  ASSERT_TRUE(series.exemplar(2));
  EXPECT_EQ(series.exemplar(2)->value, 7);
  EXPECT_FALSE(series.exemplar(3));

  const auto exposition = serialize(metrics, openmetrics);
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{le=\"1.0\"} 0\n"));
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{le=\"2.0\"} 2 # {trace_id=\"" + std::string(second_trace) +
                                    "\",span_id=\"" + std::string(second_span) + "\"} 1.25 "));
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{le=\"+Inf\"} 3 # {trace_id=\"" + std::string(first_trace) +
                                    "\",span_id=\"" + std::string(first_span) + "\"} 7 "));
}

TEST(ExemplarHistogram, OnlySampledValidContextsAreKeptButEveryValueCounts) {
  MetricsRegistry metrics;
  auto& series = metrics.histogram_family("x_seconds", "X.", {1}).add({});
  auto unsampled = traced(first_trace, first_span);
  unsampled.trace_flags = 0;
  series.observe(0.5, unsampled);
  trace::SpanContext all_zero;  // sampled flag set, identifiers all zero
  all_zero.trace_flags = 0x01;
  series.observe(0.5, all_zero);
  series.observe(0.5, trace::SpanContext{});
  EXPECT_FALSE(series.exemplar(0));
  EXPECT_THAT(serialize(metrics, openmetrics), HasSubstr("x_seconds_count 3\n"));
  series.observe(0.5, traced(first_trace, first_span));
  ASSERT_TRUE(series.exemplar(0));
  EXPECT_EQ(series.exemplar(0)->trace_id.hex(), first_trace);
}

TEST(ExemplarHistogram, SeriesAreKeptPerLabelSet) {
  MetricsRegistry metrics;
  auto& family = metrics.histogram_family("x_seconds", "X.", {1});
  auto& get = family.add({{"method", "GET"}});
  EXPECT_EQ(&family.add({{"method", "GET"}}), &get);
  auto& post = family.add({{"method", "POST"}});
  EXPECT_NE(&post, &get);
  post.observe(0.5, traced(first_trace, first_span));

  const auto exposition = serialize(metrics, openmetrics);
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{method=\"GET\",le=\"1.0\"} 0\n"));
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{method=\"POST\",le=\"1.0\"} 1 # {"));
}

TEST(ExemplarHistogram, ObservesFromManyThreadsWhileScraped) {
  MetricsRegistry metrics;
  auto& series = metrics.histogram_family("x_seconds", "X.", {0.5, 1}).add({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&series] {
      for (int i = 0; i < 1000; ++i) {
        if (i % 2) {
          series.observe(0.25 * (i % 5), traced(first_trace, first_span));
        } else {
          series.observe(0.75);
        }
      }
    });
  }
  for (int scrape = 0; scrape < 20; ++scrape) EXPECT_THAT(serialize(metrics, openmetrics), HasSubstr("# EOF\n"));
  for (auto& thread : threads) thread.join();
  const auto exposition = serialize(metrics, openmetrics);
  EXPECT_THAT(exposition, HasSubstr("x_seconds_count 4000\n"));
  // Per thread: 500 x 0.75, plus 0.25 x (each residue 0..4 a hundred times),
  // exact in binary; at most 0.5: the 300 odd i whose residue is 0, 1 or 2.
  EXPECT_THAT(exposition, HasSubstr("x_seconds_sum 2500\n"));
  EXPECT_THAT(exposition, HasSubstr("x_seconds_bucket{le=\"0.5\"} 1200 "));
}

TEST(MetricsRegistry, HistogramFamilyIsCreatedOnce) {
  MetricsRegistry metrics;
  auto& family = metrics.histogram_family("x_seconds", "X.", {1, 2});
  EXPECT_EQ(&metrics.histogram_family("x_seconds", "X.", {1, 2}), &family);
  EXPECT_EQ(metrics.find_histogram_family("x_seconds"), &family);
  EXPECT_EQ(metrics.find_histogram_family("y_seconds"), nullptr);
  EXPECT_THROW(metrics.histogram_family("x_seconds", "X.", {1, 3}), std::invalid_argument);
}

TEST(MetricsRegistry, RejectsBoundariesThatCannotMakeBuckets) {
  MetricsRegistry metrics;
  EXPECT_THROW(metrics.histogram_family("a_seconds", "A.", {2, 1}), std::invalid_argument);
  EXPECT_THROW(metrics.histogram_family("b_seconds", "B.", {1, 1}), std::invalid_argument);
  EXPECT_THROW(metrics.histogram_family("c_seconds", "C.", {1, inf()}), std::invalid_argument);
  EXPECT_THROW(metrics.histogram_family("d_seconds", "D.", {std::nan("")}), std::invalid_argument);
  EXPECT_THROW(metrics.histogram_family("not a name", "E.", {1}), std::invalid_argument);
  EXPECT_THROW(metrics.add_collectable(nullptr), std::invalid_argument);
}

// --------------------------------------------------------------- numbers ---

std::vector<std::string> le_values(const std::string& exposition) {
  static const std::regex le(R"re(le="([^"]*)")re");
  std::vector<std::string> values;
  for (auto it = std::sregex_iterator(exposition.begin(), exposition.end(), le); it != std::sregex_iterator(); ++it)
    values.push_back((*it)[1]);
  return values;
}

// The examples of OpenMetrics 1.0's "Canonical Numbers" section.
TEST(Exposition, LeValuesAreCanonicalNumbers) {
  MetricsRegistry metrics;
  metrics
      .histogram_family("x_seconds", "X.",
                        {1e-10, 1e-09, 1e-05, 0.0001, 0.001, 0.002, 0.01, 0.1, 0.9, 0.95, 0.99, 0.999, 1, 1.7, 10,
                         100000, 1e+06, 1e+10})
      .add({});
  const std::vector<std::string> expected = {"1e-10", "1e-09",    "1e-05", "0.0001", "0.001", "0.002", "0.01",
                                             "0.1",   "0.9",      "0.95",  "0.99",   "0.999", "1.0",   "1.7",
                                             "10.0",  "100000.0", "1e+06", "1e+10",  "+Inf"};
  EXPECT_EQ(le_values(serialize(metrics, openmetrics)), expected);
  EXPECT_EQ(le_values(serialize(metrics, text)), expected);
}

TEST(Exposition, ValuesReadBackExactlyAndAreWrittenShort) {
  const std::map<std::string, double> values = {{"a", 1e6},
                                                {"b", 0.1},
                                                {"c", 1.0 / 3},
                                                {"d", 1.5e-7},
                                                {"e", 1e20},
                                                {"f", 123456789.5},
                                                {"g", -2},
                                                {"h", 0.0},
                                                {"i", -inf()},
                                                {"j", 1e-300},
                                                {"k", 4503599627370497.0},
                                                {"l", 1795555647.88}};
  MetricsRegistry metrics;
  auto& family = prometheus::BuildGauge().Name("x").Help("X.").Register(metrics.registry());
  for (const auto& [name, value] : values) family.Add({{"v", name}}).Set(value);
  family.Add({{"v", "nan"}}).Set(std::nan(""));

  const auto exposition = serialize(metrics, text);
  EXPECT_THAT(exposition, HasSubstr("x{v=\"a\"} 1000000\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"b\"} 0.1\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"c\"} 0.3333333333333333\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"d\"} 1.5e-07\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"e\"} 1e+20\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"f\"} 123456789.5\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"g\"} -2\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"h\"} 0\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"i\"} -Inf\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"nan\"} NaN\n"));
  EXPECT_THAT(exposition, HasSubstr("x{v=\"l\"} 1795555647.88\n"));

  static const std::regex sample(R"re(x\{v="(\w+)"\} (\S+)\n)re");
  std::size_t checked = 0;
  for (auto it = std::sregex_iterator(exposition.begin(), exposition.end(), sample); it != std::sregex_iterator();
       ++it) {
    const auto name = (*it)[1].str();
    if (name == "nan") continue;
    const auto number = (*it)[2].str();
    EXPECT_EQ(std::strtod(number.c_str(), nullptr), values.at(name)) << name << " written as " << number;
    ++checked;
  }
  EXPECT_EQ(checked, values.size());
}

// ----------------------------------------------------------- negotiation ---

TEST(NegotiateFormat, DefaultsToText) {
  EXPECT_EQ(metrics::negotiate_format(""), text);
  EXPECT_EQ(metrics::negotiate_format("*/*"), text);
  EXPECT_EQ(metrics::negotiate_format("application/json"), text);
  EXPECT_EQ(metrics::negotiate_format("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), text);
  EXPECT_EQ(metrics::negotiate_format("application/*"), text);
}

TEST(NegotiateFormat, OpenMetricsWhenPrometheusAsksForIt) {
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;version=1.0.0,application/"
                                      "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/"
                                      "*;q=0.1"),
            openmetrics);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text"), openmetrics);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;version=0.0.1;q=0.75,text/plain;q=0.5"),
            openmetrics);
  EXPECT_EQ(metrics::negotiate_format(" APPLICATION/OpenMetrics-Text ; Version=\"1.0.0\" "), openmetrics);
}

TEST(NegotiateFormat, HonoursQValues) {
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;q=0.4,text/plain;q=0.9"), text);
  EXPECT_EQ(metrics::negotiate_format("text/plain;q=0.4,application/openmetrics-text;q=0.9"), openmetrics);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;q=0"), text);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;q=0, */*;q=0.1"), text);
  // Equal q: the more specific range, then the first listed.
  EXPECT_EQ(metrics::negotiate_format("*/*,application/openmetrics-text"), openmetrics);
  EXPECT_EQ(metrics::negotiate_format("text/*;q=0.5,application/openmetrics-text;q=0.5"), openmetrics);
  EXPECT_EQ(metrics::negotiate_format("text/plain,application/openmetrics-text"), text);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text,text/plain"), openmetrics);
}

TEST(NegotiateFormat, IgnoresWhatItCannotServeOrRead) {
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;version=2.0.0"), text);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;q=high"), text);
  EXPECT_EQ(metrics::negotiate_format("application/openmetrics-text;q=1.5"), text);
  EXPECT_EQ(metrics::negotiate_format("text/plain;version=9.9,application/openmetrics-text;q=0.1"), openmetrics);
  EXPECT_EQ(metrics::negotiate_format(",,;,application/openmetrics-text"), openmetrics);
}

TEST(ContentType, NamesTheFormatAndCharset) {
  EXPECT_EQ(metrics::content_type(text), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(metrics::content_type(openmetrics), "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// ------------------------------------------------------- process metrics ---

std::map<std::string, const prometheus::MetricFamily*> by_name(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, const prometheus::MetricFamily*> found;
  for (const auto& family : families) found[family.name] = &family;
  return found;
}

double gauge(const std::map<std::string, const prometheus::MetricFamily*>& families, const std::string& name) {
  const auto* family = families.at(name);
  EXPECT_EQ(family->type, prometheus::MetricType::Gauge) << name;
  EXPECT_EQ(family->metric.size(), 1u) << name;
  return family->metric.at(0).gauge.value;
}

TEST(ProcessCollector, ReportsThisProcess) {
  const auto families_list = ProcessCollector().Collect();
  const auto families = by_name(families_list);
  ASSERT_EQ(families.size(), 7u);

  const auto* cpu = families.at("process_cpu_seconds_total");
  EXPECT_EQ(cpu->type, prometheus::MetricType::Counter);
  EXPECT_GE(cpu->metric.at(0).counter.value, 0.0);
  EXPECT_EQ(cpu->help, "Total user and system CPU time spent in seconds.");

  const double resident = gauge(families, "process_resident_memory_bytes");
  EXPECT_GT(resident, 0.0);
  EXPECT_GE(gauge(families, "process_virtual_memory_bytes"), resident);
  const double open_fds = gauge(families, "process_open_fds");
  EXPECT_GE(open_fds, 3.0);
  EXPECT_GE(gauge(families, "process_max_fds"), open_fds);
  EXPECT_GE(gauge(families, "process_threads"), 1.0);

  const double now = static_cast<double>(now_ms()) / 1000;
  const double start = gauge(families, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400);
}

TEST(ProcessCollector, IsExposedThroughTheRegistry) {
  MetricsRegistry metrics;
  metrics.add_collectable(std::make_shared<ProcessCollector>());
  EXPECT_THAT(serialize(metrics, text),
              HasSubstr("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "));
  EXPECT_THAT(serialize(metrics, openmetrics), HasSubstr("# TYPE process_cpu_seconds counter\n"
                                                         "# HELP process_cpu_seconds Total user and system CPU time "
                                                         "spent in seconds.\nprocess_cpu_seconds_total "));
}

class FakeProc : public testing::Test {
 protected:
  FakeProc() {
    std::string pattern = (std::filesystem::temp_directory_path() / "telemetry-proc-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    root = pattern;
    std::filesystem::create_directories(root / "self" / "fd");
  }
  ~FakeProc() override { std::filesystem::remove_all(root); }

  void write(const std::filesystem::path& relative, const std::string& content) {
    std::ofstream(root / relative) << content;
  }

  std::filesystem::path root;
};

TEST_F(FakeProc, ReadsEveryFieldWhereProcFiveSaysItIs) {
  // A command name with spaces and parentheses, as a process may choose.
  write("self/stat", "42 (my (weird) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 104857600 2560 "
                     "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  write("stat", "cpu  1 2 3 4\nintr 1 2 3\nctxt 99\nbtime 1700000000\nprocesses 5\n");
  for (const char* fd : {"0", "1", "2", "5"}) write(std::filesystem::path("self/fd") / fd, "");

  const auto families_list = ProcessCollector(root).Collect();
  const auto families = by_name(families_list);
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));

  EXPECT_DOUBLE_EQ(families.at("process_cpu_seconds_total")->metric.at(0).counter.value, 300 / ticks);
  EXPECT_EQ(gauge(families, "process_resident_memory_bytes"), 2560 * page);
  EXPECT_EQ(gauge(families, "process_virtual_memory_bytes"), 104857600);
  EXPECT_EQ(gauge(families, "process_threads"), 7);
  EXPECT_EQ(gauge(families, "process_open_fds"), 4);
  EXPECT_DOUBLE_EQ(gauge(families, "process_start_time_seconds"), 1700000000 + 12345 / ticks);
}

TEST_F(FakeProc, LeavesOutWhatItCannotRead) {
  write("self/stat", "42 (truncated) S 1 42\n");  // no btime file either
  std::filesystem::remove(root / "self" / "fd");

  std::vector<prometheus::MetricFamily> families;
  EXPECT_NO_THROW(families = ProcessCollector(root).Collect());
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "process_max_fds");  // from getrlimit, not /proc
}

TEST(ProcessCollectorWithoutProc, CollectsWithoutThrowing) {
  std::vector<prometheus::MetricFamily> families;
  EXPECT_NO_THROW(families = ProcessCollector("/nonexistent/proc").Collect());
  EXPECT_EQ(by_name(families).count("process_open_fds"), 0u);
}

}  // namespace

namespace {

TEST(IntegerHistogram, CountsEachValueInTheFirstBucketWhoseBoundHoldsIt) {
  metrics::IntegerHistogramFamily family("body_bytes", "Body sizes.", {64, 256, 1024});
  auto& series = family.add({{"route", "/a"}});
  for (const std::uint64_t value : {0, 64, 65, 256, 1000, 1025, 5000}) series.observe(value);
  const auto collected = family.Collect();
  ASSERT_EQ(collected.size(), 1u);
  EXPECT_EQ(collected[0].name, "body_bytes");
  EXPECT_EQ(collected[0].type, prometheus::MetricType::Histogram);
  ASSERT_EQ(collected[0].metric.size(), 1u);
  const auto& histogram = collected[0].metric[0].histogram;
  ASSERT_EQ(histogram.bucket.size(), 4u);
  EXPECT_EQ(histogram.bucket[0].cumulative_count, 2u);  // 0 and 64 (bounds are inclusive)
  EXPECT_EQ(histogram.bucket[1].cumulative_count, 4u);  // 65, 256
  EXPECT_EQ(histogram.bucket[2].cumulative_count, 5u);  // 1000
  EXPECT_EQ(histogram.bucket[3].cumulative_count, 7u);  // +Inf
  EXPECT_TRUE(std::isinf(histogram.bucket[3].upper_bound));
  EXPECT_EQ(histogram.sample_count, 7u);
  EXPECT_EQ(histogram.sample_sum, 0 + 64 + 65 + 256 + 1000 + 1025 + 5000);
  EXPECT_EQ(&family.add({{"route", "/a"}}), &series);  // the same series for the same labels
}

TEST(IntegerHistogram, RejectsInvalidNamesAndBounds) {
  EXPECT_THROW(metrics::IntegerHistogramFamily("0bad", "", {1}), std::invalid_argument);
  EXPECT_THROW(metrics::IntegerHistogramFamily("ok", "", {5, 5}), std::invalid_argument);
  metrics::IntegerHistogramFamily family("ok", "", {1});
  EXPECT_THROW(family.add({{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(family.add({{"bad-name", "1"}}), std::invalid_argument);
}

TEST(IntegerHistogram, ObservationsFromManyThreadsAreAllCounted) {
  metrics::IntegerHistogramFamily family("bytes", "", {10});
  auto& series = family.add({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) series.observe(static_cast<std::uint64_t>(i % 20));
    });
  for (auto& thread : threads) thread.join();
  const auto histogram = family.Collect()[0].metric[0].histogram;
  EXPECT_EQ(histogram.sample_count, 40'000u);
  EXPECT_EQ(histogram.bucket[0].cumulative_count, 22'000u);  // 0..10 of every 20
  EXPECT_EQ(histogram.sample_sum, 4 * 500 * 190);
}

}  // namespace
