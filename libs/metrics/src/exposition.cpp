#include "metrics/exposition.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// --------------------------------------------------------------- numbers ---

void append_chars(std::string& out, const char* first, const char* last) { out.append(first, last); }

// Go's strconv.FormatFloat(v, 'g', -1, 64), which the Go client and the
// OpenMetrics canonical numbers use: the shortest digits that read back as
// the same double, in exponent form when the exponent is below -4 or at
// least 6 ("0.0001", "100000", "1e+06", "1e-05").
void append_go_g(std::string& out, double value) {
  std::array<char, 64> buffer;
  const auto scientific = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                        std::chars_format::scientific);
  const char* e = std::find(buffer.data(), scientific.ptr, 'e');
  const char* digits = e + 1;
  if (digits != scientific.ptr && *digits == '+') ++digits;
  int exponent = 0;
  std::from_chars(digits, scientific.ptr, exponent);
  if (exponent < -4 || exponent >= 6) {
    append_chars(out, buffer.data(), scientific.ptr);
    return;
  }
  const auto fixed = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  append_chars(out, buffer.data(), fixed.ptr);
}

bool append_non_finite(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    return false;
  }
  return true;
}

// Sample values: whole numbers as integers (a counter at a million reads
// "1000000", not "1e+06"), anything else in the shorter of fixed and exponent
// notation that reads back as the same double ("1795555647.88", "1.5e-07").
void append_value(std::string& out, double value) {
  if (append_non_finite(out, value)) return;
  std::array<char, 64> buffer;
  std::to_chars_result result;
  if (value == 0) {
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), 0);  // never "-0"
  } else if (std::trunc(value) == value && std::fabs(value) < 1e15) {
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), static_cast<std::int64_t>(value));
  } else {
    result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  }
  append_chars(out, buffer.data(), result.ptr);
}

void append_integer(std::string& out, std::uint64_t value) {
  std::array<char, 24> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  append_chars(out, buffer.data(), result.ptr);
}

// "le" and "quantile" values are label values, compared as strings: one
// number must always read the same. OpenMetrics' canonical form is Go's %g
// with ".0" added to whole numbers ("1.0", "0.005", "1e+06"). It is used in
// both formats so that a series keeps its identity whichever one a scraper
// negotiates (as the Python client does).
void append_canonical(std::string& out, double value) {
  if (append_non_finite(out, value)) return;
  const auto start = out.size();
  append_go_g(out, value);
  if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
}

// Unix milliseconds as seconds: "1700000000.123".
void append_seconds(std::string& out, std::int64_t milliseconds) {
  if (milliseconds < 0) {
    out += '-';
    milliseconds = -milliseconds;
  }
  append_integer(out, static_cast<std::uint64_t>(milliseconds / 1000));
  const auto fraction = static_cast<int>(milliseconds % 1000);
  out += '.';
  out += static_cast<char>('0' + fraction / 100);
  out += static_cast<char>('0' + fraction / 10 % 10);
  out += static_cast<char>('0' + fraction % 10);
}

// ----------------------------------------------------------------- text ---

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

// The text format 0.0.4 reads only \\ and \n in HELP; OpenMetrics also \".
void append_help(std::string& out, std::string_view help, bool escape_quotes) {
  for (const char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '"':
        if (escape_quotes) out += '\\';
        out += c;
        break;
      default: out += c;
    }
  }
}

std::string_view type_name(MetricType type, bool openmetrics) {
  switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Histogram: return "histogram";
    case MetricType::Untyped: break;
  }
  return openmetrics ? "unknown" : "untyped";
}

std::size_t estimated_size(const std::vector<MetricFamily>& families) {
  std::size_t size = 16;
  for (const auto& family : families) {
    size += 2 * family.name.size() + family.help.size() + 32;
    for (const auto& metric : family.metric) {
      std::size_t labels = 0;
      for (const auto& label : metric.label) labels += label.name.size() + label.value.size() + 4;
      std::size_t samples = 1;
      if (family.type == MetricType::Summary) samples = metric.summary.quantile.size() + 2;
      if (family.type == MetricType::Histogram) samples = metric.histogram.bucket.size() + 2 + 1;  // + an exemplar
      size += samples * (family.name.size() + labels + 48);
    }
  }
  return size;
}

class ExpositionWriter {
 public:
  ExpositionWriter(std::string& out, ExpositionFormat format, const MetricsRegistry& metrics)
      : out_(out), openmetrics_(format == ExpositionFormat::openmetrics_1_0_0), metrics_(metrics) {}

  void family(const MetricFamily& family) {
    std::string_view name = family.name;
    std::string_view value_suffix;
    if (openmetrics_ && family.type == MetricType::Counter) {
      // OpenMetrics names the counter without _total; its sample keeps it.
      if (name.ends_with("_total")) name.remove_suffix(6);
      value_suffix = "_total";
    }
    metadata(name, family.help, family.type);
    switch (family.type) {
      case MetricType::Counter:
        for (const auto& metric : family.metric) single_value(name, value_suffix, metric, metric.counter.value);
        break;
      case MetricType::Gauge:
        for (const auto& metric : family.metric) single_value(name, {}, metric, metric.gauge.value);
        break;
      case MetricType::Untyped:
        for (const auto& metric : family.metric) single_value(name, {}, metric, metric.untyped.value);
        break;
      case MetricType::Summary:
        for (const auto& metric : family.metric) summary(name, metric);
        break;
      case MetricType::Histogram: {
        const auto* exemplars = openmetrics_ ? metrics_.find_histogram_family(family.name) : nullptr;
        for (const auto& metric : family.metric)
          histogram(name, metric, exemplars ? exemplars->find(metric.label) : nullptr);
        break;
      }
    }
  }

  void finish() {
    if (openmetrics_) out_ += "# EOF\n";
  }

 private:
  void metadata(std::string_view name, std::string_view help, MetricType type) {
    if (openmetrics_) type_line(name, type);
    if (!help.empty()) {
      out_ += "# HELP ";
      out_ += name;
      out_ += ' ';
      append_help(out_, help, openmetrics_);
      out_ += '\n';
    }
    if (!openmetrics_) type_line(name, type);
  }

  void type_line(std::string_view name, MetricType type) {
    out_ += "# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type_name(type, openmetrics_);
    out_ += '\n';
  }

  // Writes `name{labels,extra="…"} ` up to the value.
  void sample_start(std::string_view name, std::string_view suffix, const ClientMetric& metric,
                    std::string_view extra_label = {}, double extra_value = 0) {
    out_ += name;
    out_ += suffix;
    if (!metric.label.empty() || !extra_label.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& label : metric.label) {
        if (!first) out_ += ',';
        first = false;
        out_ += label.name;
        out_ += "=\"";
        append_label_value(out_, label.value);
        out_ += '"';
      }
      if (!extra_label.empty()) {
        if (!first) out_ += ',';
        out_ += extra_label;
        out_ += "=\"";
        append_canonical(out_, extra_value);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
  }

  void timestamp(const ClientMetric& metric) {
    if (metric.timestamp_ms == 0) return;
    out_ += ' ';
    if (openmetrics_) {
      append_seconds(out_, metric.timestamp_ms);
    } else {
      std::array<char, 24> buffer;
      const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), metric.timestamp_ms);
      append_chars(out_, buffer.data(), result.ptr);
    }
  }

  void single_value(std::string_view name, std::string_view suffix, const ClientMetric& metric, double value) {
    sample_start(name, suffix, metric);
    append_value(out_, value);
    timestamp(metric);
    out_ += '\n';
  }

  void sum_and_count(std::string_view name, const ClientMetric& metric, double sum, std::uint64_t count) {
    sample_start(name, "_sum", metric);
    append_value(out_, sum);
    timestamp(metric);
    out_ += '\n';
    sample_start(name, "_count", metric);
    append_integer(out_, count);
    timestamp(metric);
    out_ += '\n';
  }

  void summary(std::string_view name, const ClientMetric& metric) {
    for (const auto& quantile : metric.summary.quantile) {
      sample_start(name, {}, metric, "quantile", quantile.quantile);
      append_value(out_, quantile.value);
      timestamp(metric);
      out_ += '\n';
    }
    sum_and_count(name, metric, metric.summary.sample_sum, metric.summary.sample_count);
  }

  void histogram(std::string_view name, const ClientMetric& metric, const ExemplarHistogram* series) {
    const auto& buckets = metric.histogram.bucket;
    if (series && series->bucket_count() != buckets.size()) series = nullptr;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      sample_start(name, "_bucket", metric, "le", buckets[i].upper_bound);
      append_integer(out_, buckets[i].cumulative_count);
      timestamp(metric);
      if (series) {
        if (const auto exemplar = series->exemplar(i)) append_exemplar(*exemplar);
      }
      out_ += '\n';
    }
    sum_and_count(name, metric, metric.histogram.sample_sum, metric.histogram.sample_count);
  }

  void append_exemplar(const Exemplar& exemplar) {
    out_ += " # {trace_id=\"";
    out_ += exemplar.trace_id.hex();
    out_ += "\",span_id=\"";
    out_ += exemplar.span_id.hex();
    out_ += "\"} ";
    append_value(out_, exemplar.value);
    out_ += ' ';
    append_seconds(out_, exemplar.timestamp_ms);
  }

  std::string& out_;
  const bool openmetrics_;
  const MetricsRegistry& metrics_;
};

}  // namespace

std::string_view content_type(ExpositionFormat format) {
  switch (format) {
    case ExpositionFormat::openmetrics_1_0_0: return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case ExpositionFormat::prometheus_text_0_0_4: break;
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

void serialize(const MetricsRegistry& metrics, ExpositionFormat format, std::string& out) {
  const auto families = metrics.collect();
  out.clear();
  out.reserve(estimated_size(families));
  ExpositionWriter writer(out, format, metrics);
  for (const auto& family : families) writer.family(family);
  writer.finish();
}

std::string serialize(const MetricsRegistry& metrics, ExpositionFormat format) {
  std::string out;
  serialize(metrics, format, out);
  return out;
}

}  // namespace metrics
