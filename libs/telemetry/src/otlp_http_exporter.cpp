#include "telemetry/otlp_http_exporter.hpp"

#include "telemetry/otlp_encoding.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>

namespace telemetry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

// "http://" or "https://" (any case) followed by something that is not a path.
bool is_http_url(std::string_view url) {
  for (const std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (url.size() > scheme.size() && iequals(url.substr(0, scheme.size()), scheme) && url[scheme.size()] != '/')
      return true;
  }
  return false;
}

// RFC 9110 token characters, which a header name must consist of.
bool is_token(std::string_view text) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           specials.find(c) != std::string_view::npos;
  });
}

bool is_safe_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding as the W3C Baggage format the header variables use: %XX
// only, '+' is itself. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

// One variable as read: its name and trimmed value; an empty name when neither
// the signal-specific nor the generic variable is set to something non-empty.
struct Setting {
  std::string name;
  std::string value;
  bool generic = false;
};

Setting lookup(const std::function<const char*(const char*)>& getenv, std::string_view suffix) {
  for (const bool generic : {false, true}) {
    std::string name = generic ? "OTEL_EXPORTER_OTLP_" : "OTEL_EXPORTER_OTLP_TRACES_";
    name += suffix;
    if (const char* raw = getenv(name.c_str())) {
      const auto value = trim(raw);
      if (!value.empty()) return {std::move(name), std::string(value), generic};
    }
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> parse_headers(std::string_view list, const std::string& variable) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t position = 0;
  // Never log an entry itself: header values are usually credentials.
  const auto ignore = [&](std::string_view reason) {
    spdlog::warn("{}: ignoring entry {}: {}", variable, position, reason);
  };
  while (true) {
    const auto comma = list.find(',');
    const auto entry = trim(list.substr(0, comma));
    ++position;
    if (!entry.empty()) {
      const auto equals = entry.find('=');
      if (equals == std::string_view::npos) {
        ignore("expected key=value");
      } else if (const auto key = trim(entry.substr(0, equals)); !is_token(key)) {
        ignore("the key is not a valid header name");
      } else if (auto value = percent_decode(trim(entry.substr(equals + 1))); !value) {
        ignore("the value has a malformed percent-encoding");
      } else if (!is_safe_header_value(*value)) {
        ignore("the value contains a line break or NUL");
      } else {
        headers.emplace_back(std::string(key), std::move(*value));
      }
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return headers;
}

std::chrono::milliseconds parse_timeout(const Setting& setting) {
  long long value = 0;
  const auto* const end = setting.value.data() + setting.value.size();
  const auto [ptr, error] = std::from_chars(setting.value.data(), end, value);
  if (error != std::errc{} || ptr != end || value <= 0 || value > std::numeric_limits<int>::max())
    throw std::invalid_argument(setting.name + ": expected a positive number of milliseconds, got '" + setting.value +
                                "'");
  return std::chrono::milliseconds(value);
}

bool parse_compression(const Setting& setting) {
  if (iequals(setting.value, "gzip")) return true;
  if (iequals(setting.value, "none")) return false;
  throw std::invalid_argument(setting.name + ": expected 'gzip' or 'none', got '" + setting.value + "'");
}

// Retry-After as delta-seconds or an HTTP date; nullopt when unreadable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  constexpr long long max_seconds = 24 * 3600;
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    const auto [ptr, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error == std::errc::result_out_of_range) return std::chrono::seconds(max_seconds);
    if (error != std::errc{}) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, max_seconds));
  }
  const std::string date(value);
  const std::time_t when = curl_getdate(date.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const long long seconds = static_cast<long long>(when) - static_cast<long long>(std::time(nullptr));
  return std::chrono::seconds(std::clamp(seconds, 0LL, max_seconds));
}

bool is_retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool is_retryable(long status) { return status == 429 || status == 502 || status == 503 || status == 504; }

bool is_reserved_header(std::string_view name) {
  for (const std::string_view reserved :
       {"content-type", "content-encoding", "content-length", "transfer-encoding", "expect"}) {
    if (iequals(name, reserved)) return true;
  }
  return false;
}

// libcurl's global state, set up once per process before the first handle and
// left for the process's end (other code may use libcurl too).
void initialise_curl() {
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result != CURLE_OK)
    throw std::runtime_error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(result));
}

// Warnings at most once per interval; the next one says how many were left out.
class RateLimitedWarnings {
 public:
  void warn(const std::string& message) {
    const auto now = Clock::now();
    if (last_ && now - *last_ < interval) {
      ++suppressed_;
      return;
    }
    if (suppressed_ > 0)
      spdlog::warn("{} ({} similar warnings suppressed)", message, suppressed_);
    else
      spdlog::warn("{}", message);
    last_ = now;
    suppressed_ = 0;
  }

 private:
  static constexpr auto interval = 10s;
  std::optional<Clock::time_point> last_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace

OtlpHttpExporterOptions otlp_options_from_environment(std::function<const char*(const char*)> getenv) {
  OtlpHttpExporterOptions options;

  if (auto endpoint = lookup(getenv, "ENDPOINT"); !endpoint.name.empty()) {
    if (!is_http_url(endpoint.value))
      throw std::invalid_argument(endpoint.name + ": expected an http:// or https:// URL, got '" + endpoint.value +
                                  "'");
    options.endpoint = endpoint.value;
    if (endpoint.generic) options.endpoint += endpoint.value.ends_with('/') ? "v1/traces" : "/v1/traces";
  }
  if (const auto headers = lookup(getenv, "HEADERS"); !headers.name.empty())
    options.headers = parse_headers(headers.value, headers.name);
  if (const auto timeout = lookup(getenv, "TIMEOUT"); !timeout.name.empty()) options.timeout = parse_timeout(timeout);
  if (const auto compression = lookup(getenv, "COMPRESSION"); !compression.name.empty())
    options.gzip = parse_compression(compression);
  if (const auto protocol = lookup(getenv, "PROTOCOL"); !protocol.name.empty() && protocol.value != "http/protobuf")
    spdlog::warn("{} is '{}' but this exporter only speaks http/protobuf; using that", protocol.name, protocol.value);

  return options;
}

struct OtlpHttpExporter::Impl {
  struct Outcome {
    bool success = false;
    bool retryable = false;
    std::optional<std::chrono::seconds> retry_after;
    std::string problem;
  };

  OtlpHttpExporterOptions options;
  Resource resource;
  InstrumentationScope scope;
  ExporterStats stats;

  CURL* curl = nullptr;
  curl_slist* header_list = nullptr;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  z_stream zstream{};
  bool zstream_ready = false;

  std::string body;        // the encoded request, reused across exports
  std::string compressed;  // its gzip form, likewise

  // What the callbacks saw of the current attempt's response.
  std::optional<std::chrono::seconds> retry_after;
  std::string response_excerpt;

  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> shut_down{false};

  std::mt19937_64 random{std::random_device{}()};
  RateLimitedWarnings warnings;

  Impl(OtlpHttpExporterOptions options_, Resource resource_, InstrumentationScope scope_)
      : options(std::move(options_)), resource(std::move(resource_)), scope(std::move(scope_)) {
    if (!is_http_url(options.endpoint))
      throw std::invalid_argument("OTLP endpoint: expected an http:// or https:// URL, got '" + options.endpoint + "'");
    if (options.timeout <= 0ms) throw std::invalid_argument("OTLP exporter timeout must be positive");
    if (options.max_attempts < 1) throw std::invalid_argument("OTLP exporter max_attempts must be at least 1");
    if (options.initial_backoff < 0ms || options.max_backoff < 0ms)
      throw std::invalid_argument("OTLP exporter backoffs must not be negative");
    try {
      set_up();
    } catch (...) {
      release();
      throw;
    }
  }

  ~Impl() { release(); }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void set_up() {
    initialise_curl();
    curl = curl_easy_init();
    if (!curl) throw std::runtime_error("cannot create a libcurl handle");

    add_header("Content-Type: application/x-protobuf");
    add_header("Expect:");  // no 100-continue round trip for large batches
    if (options.gzip) add_header("Content-Encoding: gzip");
    for (std::size_t i = 0; i < options.headers.size(); ++i) {
      const auto& [name, raw_value] = options.headers[i];
      const auto value = trim(raw_value);
      if (!is_token(name) || !is_safe_header_value(value)) {
        spdlog::warn("OTLP exporter: leaving out header {}: not a valid header name or value", i + 1);
        continue;
      }
      if (is_reserved_header(name)) {
        spdlog::warn("OTLP exporter: leaving out header '{}': the exporter sets it", name);
        continue;
      }
      // "Name;" is libcurl's way to send a header with an empty value.
      add_header(value.empty() ? name + ";" : name + ": " + std::string(value));
    }

    set(CURLOPT_URL, options.endpoint.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_HTTPHEADER, header_list);
    set(CURLOPT_POST, 1L);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_USERAGENT, "OTel-OTLP-Exporter-Cpp (pokedex-stack telemetry)");
    set(CURLOPT_ERRORBUFFER, error_buffer.data());
    set(CURLOPT_WRITEFUNCTION, &Impl::on_body);
    set(CURLOPT_WRITEDATA, this);
    set(CURLOPT_HEADERFUNCTION, &Impl::on_header);
    set(CURLOPT_HEADERDATA, this);

    if (options.gzip) {
      // 15 + 16: the largest window, with a gzip rather than a zlib wrapper.
      if (deflateInit2(&zstream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("cannot initialise zlib");
      zstream_ready = true;
    }
  }

  void release() {
    if (curl) curl_easy_cleanup(curl);
    curl = nullptr;
    curl_slist_free_all(header_list);
    header_list = nullptr;
    if (zstream_ready) deflateEnd(&zstream);
    zstream_ready = false;
  }

  void add_header(const std::string& line) {
    curl_slist* const appended = curl_slist_append(header_list, line.c_str());
    if (!appended) throw std::runtime_error("cannot build the OTLP request headers");
    header_list = appended;
  }

  template <class Value>
  void set(CURLoption option, Value value) {
    if (const CURLcode result = curl_easy_setopt(curl, option, value); result != CURLE_OK)
      throw std::runtime_error(std::string("cannot configure libcurl: ") + curl_easy_strerror(result));
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto& self = *static_cast<Impl*>(user);
    const std::size_t bytes = size * count;
    // Keep the start of an error response for the log, printable characters only.
    for (std::size_t i = 0; i < bytes && self.response_excerpt.size() < 200; ++i) {
      const char c = data[i];
      if (c >= 0x20 && c < 0x7f) self.response_excerpt.push_back(c);
    }
    return bytes;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto& self = *static_cast<Impl*>(user);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {  // a new response (after a 1xx, say) starts afresh
      self.retry_after.reset();
    } else if (const auto colon = line.find(':');
               colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), "retry-after")) {
      self.retry_after = parse_retry_after(trim(line.substr(colon + 1)));
    }
    return bytes;
  }

  bool gzip(const std::string& in, std::string& out) {
    if (deflateReset(&zstream) != Z_OK) return false;
    out.resize(deflateBound(&zstream, static_cast<uLong>(in.size())));
    zstream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zstream.avail_in = static_cast<uInt>(in.size());
    zstream.next_out = reinterpret_cast<Bytef*>(out.data());
    zstream.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zstream, Z_FINISH) != Z_STREAM_END) return false;
    out.resize(zstream.total_out);
    return true;
  }

  Outcome attempt(const std::string& payload, std::chrono::milliseconds budget) {
    error_buffer[0] = '\0';
    retry_after.reset();
    response_excerpt.clear();
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    set(CURLOPT_POSTFIELDS, payload.data());
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(budget.count()));

    Outcome outcome;
    if (const CURLcode result = curl_easy_perform(curl); result != CURLE_OK) {
      outcome.retryable = is_retryable(result);
      outcome.problem = error_buffer[0] != '\0' ? error_buffer.data() : curl_easy_strerror(result);
      return outcome;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      outcome.success = true;
      return outcome;
    }
    outcome.retryable = is_retryable(status);
    if (outcome.retryable) outcome.retry_after = retry_after;
    outcome.problem = "HTTP " + std::to_string(status);
    if (!response_excerpt.empty()) outcome.problem += " (" + response_excerpt + ")";
    return outcome;
  }

  // The wait before retry number `retry` (1 for the second attempt).
  std::chrono::milliseconds backoff(int retry) {
    auto delay = options.initial_backoff;
    for (int i = 1; i < retry && delay < options.max_backoff; ++i) delay *= 2;
    delay = std::min(delay, options.max_backoff);
    if (delay <= 0ms) return 0ms;
    std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(jitter(random));
  }

  // False when shutdown() cut the wait short.
  bool wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !wake.wait_for(lock, delay, [this] { return shut_down.load(); });
  }

  ExportResult fail(std::size_t spans, const std::string& problem) {
    ++stats.failed_exports;
    warnings.warn("OTLP export of " + std::to_string(spans) + (spans == 1 ? " span" : " spans") + " to " +
                  options.endpoint + " failed: " + problem);
    return ExportResult::failure;
  }

  ExportResult export_spans(std::span<const SpanData> spans) {
    if (spans.empty()) return ExportResult::success;
    if (shut_down) {
      ++stats.failed_exports;
      spdlog::debug("OTLP exporter is shut down; dropping {} spans", spans.size());
      return ExportResult::failure;
    }
    const auto deadline = Clock::now() + options.timeout;

    body.clear();
    append_export_trace_request(body, resource, scope, spans);
    const std::string* payload = &body;
    if (options.gzip) {
      if (!gzip(body, compressed)) return fail(spans.size(), "gzip compression failed");
      payload = &compressed;
    }

    for (int attempt_number = 1;; ++attempt_number) {
      const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (budget <= 0ms) return fail(spans.size(), "timed out before attempt " + std::to_string(attempt_number));
      const Outcome outcome = attempt(*payload, budget);
      if (outcome.success) {
        stats.exported_spans += spans.size();
        return ExportResult::success;
      }
      const std::string attempts = " (attempt " + std::to_string(attempt_number) + " of " +
                                   std::to_string(options.max_attempts) + ")";
      if (!outcome.retryable) return fail(spans.size(), outcome.problem + attempts);
      if (attempt_number >= options.max_attempts) return fail(spans.size(), outcome.problem + attempts + "; giving up");
      const auto delay = outcome.retry_after ? std::chrono::milliseconds(*outcome.retry_after) : backoff(attempt_number);
      if (Clock::now() + delay >= deadline)
        return fail(spans.size(), outcome.problem + attempts + "; a retry in " + std::to_string(delay.count()) +
                                      " ms would pass the " + std::to_string(options.timeout.count()) +
                                      " ms timeout");
      spdlog::debug("OTLP export to {} failed: {}{}; retrying in {} ms", options.endpoint, outcome.problem, attempts,
                    delay.count());
      if (!wait(delay)) return fail(spans.size(), outcome.problem + attempts + "; shut down while waiting to retry");
      ++stats.retries;
    }
  }

  void shutdown() {
    {
      std::lock_guard lock(mutex);
      shut_down = true;
    }
    wake.notify_all();
  }
};

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpExporterOptions options, Resource resource, InstrumentationScope scope)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(resource), std::move(scope))) {}

OtlpHttpExporter::~OtlpHttpExporter() = default;

ExportResult OtlpHttpExporter::export_spans(std::span<const SpanData> spans) {
  try {
    return impl_->export_spans(spans);
  } catch (...) {
    // Nothing escapes, not even a failure to log the failure.
    ++impl_->stats.failed_exports;
    try {
      throw;
    } catch (const std::exception& error) {
      try {
        impl_->warnings.warn("OTLP export to " + impl_->options.endpoint + " failed: " + error.what());
      } catch (...) {
      }
    } catch (...) {
    }
    return ExportResult::failure;
  }
}

void OtlpHttpExporter::shutdown() { impl_->shutdown(); }

const ExporterStats& OtlpHttpExporter::stats() const { return impl_->stats; }

const OtlpHttpExporterOptions& OtlpHttpExporter::options() const { return impl_->options; }

}  // namespace telemetry
