// As libs/http (a PUBLIC compile definition there), which links into the same
// programs: the same Asio declarations in both.
#ifndef BOOST_ASIO_NO_DEPRECATED
#define BOOST_ASIO_NO_DEPRECATED
#endif

#include "telemetry/otlp_http_exporter.hpp"

#include "telemetry/otlp_encoding.hpp"
#include "text/text.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace telemetry {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// An endpoint taken apart: http://host[:port][/path][?query], the host a name,
// an IPv4 address or an IPv6 address in brackets.
struct HttpUrl {
  std::string host;           // as resolved: an IPv6 address without its brackets
  std::uint16_t port = 80;
  std::string authority;      // for the Host header: the host as written, ":port" unless 80
  std::string target = "/";   // the request target: the path and the query, no fragment
};

// The URL or, when it is not one this exporter can send to, why.
struct ParsedUrl {
  std::optional<HttpUrl> url;
  std::string problem;
};

bool is_host_name_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

ParsedUrl parse_http_url(std::string_view url) {
  constexpr std::string_view http = "http://";
  constexpr std::string_view https = "https://";
  const auto fail = [](std::string problem) { return ParsedUrl{std::nullopt, std::move(problem)}; };
  if (url.size() >= https.size() && text::iequals(url.substr(0, https.size()), https))
    return fail(
        "only http:// endpoints are supported (this build has no TLS: send to a collector sidecar, or over plain "
        "http inside the stack's network)");
  if (url.size() < http.size() || !text::iequals(url.substr(0, http.size()), http)) return fail("expected an http:// URL");

  const std::string_view rest = url.substr(http.size());
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported (send an Authorization header instead)");

  HttpUrl result;
  std::string_view host;
  std::string_view written_host;  // brackets included
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("an IPv6 address without its closing ']'");
    host = authority.substr(1, close - 1);
    written_host = authority.substr(0, close + 1);
    if (const auto after = authority.substr(close + 1); !after.empty()) {
      if (after.front() != ':') return fail("unexpected characters after the IPv6 address");
      port = after.substr(1);
    }
    error_code error;
    asio::ip::make_address_v6(std::string(host), error);
    if (error) return fail("the brackets do not hold an IPv6 address");
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    written_host = host;
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (!std::all_of(host.begin(), host.end(), is_host_name_char))
      return fail("the host has characters a host name cannot have");
  }
  if (host.empty()) return fail("no host");
  if (port && !port->empty()) {  // "host:" is the default port, as RFC 3986 has it
    unsigned value = 0;
    const auto [ptr, error] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (error != std::errc{} || ptr != port->data() + port->size() || value == 0 || value > 65535)
      return fail("the port is not a number from 1 to 65535");
    result.port = static_cast<std::uint16_t>(value);
  }
  result.host = std::string(host);
  result.authority = std::string(written_host);
  if (result.port != 80) result.authority += ":" + std::to_string(result.port);

  tail = tail.substr(0, tail.find('#'));
  if (!std::all_of(tail.begin(), tail.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return fail("the path has spaces, control or non-ASCII characters (percent-encode them)");
  if (tail.starts_with('?'))
    result.target = "/" + std::string(tail);
  else if (!tail.empty())
    result.target = std::string(tail);
  return {std::move(result), {}};
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
      const auto value = text::trim(raw, text::ascii_whitespace);
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
    const auto entry = text::trim(list.substr(0, comma), text::ascii_whitespace);
    ++position;
    if (!entry.empty()) {
      const auto equals = entry.find('=');
      if (equals == std::string_view::npos) {
        ignore("expected key=value");
      } else if (const auto key = text::trim(entry.substr(0, equals), text::ascii_whitespace); !is_token(key)) {
        ignore("the key is not a valid header name");
      } else if (auto value = text::percent_decode(text::trim(entry.substr(equals + 1), text::ascii_whitespace)); !value) {
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
  if (text::iequals(setting.value, "gzip")) return true;
  if (text::iequals(setting.value, "none")) return false;
  throw std::invalid_argument(setting.name + ": expected 'gzip' or 'none', got '" + setting.value + "'");
}

// An HTTP date (RFC 9110 section 5.6.7): the IMF-fixdate "Sun, 06 Nov 1994
// 08:49:37 GMT" that servers send, and, as recipients are to accept them, the
// obsolete "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37
// 1994". Names in any case; nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text) {
  static constexpr std::array<std::string_view, 12> months{"jan", "feb", "mar", "apr", "may", "jun",
                                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  static constexpr std::array<std::string_view, 7> weekdays{"monday", "tuesday",  "wednesday", "thursday",
                                                            "friday", "saturday", "sunday"};
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto number = [](std::string_view digits) {
    int value = 0;
    for (const char c : digits) value = value * 10 + (c - '0');
    return value;
  };
  int day = -1, month = -1, year = -1, hour = -1, minute = -1, second = -1;
  bool weekday = false, zone = false;
  constexpr std::string_view separators = " ,-";
  while (true) {
    const auto start = text.find_first_not_of(separators);
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const auto token = text.substr(0, text.find_first_of(separators));
    text.remove_prefix(token.size());
    if (std::all_of(token.begin(), token.end(), is_digit)) {
      if (token.size() <= 2 && day < 0) {
        day = number(token);
      } else if (token.size() == 4 && year < 0) {
        year = number(token);
      } else if (token.size() == 2 && year < 0) {  // RFC 850's two digits, the RFC's fifty-year rule (roughly)
        year = number(token);
        year += year < 70 ? 2000 : 1900;
      } else {
        return std::nullopt;
      }
    } else if (token.size() == 8 && token[2] == ':' && token[5] == ':') {
      for (const std::size_t i : {0, 1, 3, 4, 6, 7})
        if (!is_digit(token[i])) return std::nullopt;
      if (hour >= 0) return std::nullopt;
      hour = number(token.substr(0, 2));
      minute = number(token.substr(3, 2));
      second = number(token.substr(6, 2));
    } else if (text::iequals(token, "GMT") && !zone) {
      zone = true;
    } else if (const auto m = std::find_if(months.begin(), months.end(),
                                           [&](std::string_view name) { return text::iequals(token, name); });
               m != months.end() && month < 0) {
      month = static_cast<int>(m - months.begin());
    } else if (std::any_of(weekdays.begin(), weekdays.end(),
                           [&](std::string_view name) {
                             return text::iequals(token, name) || text::iequals(token, name.substr(0, 3));
                           }) &&
               !weekday && day < 0 && month < 0) {
      weekday = true;
    } else {
      return std::nullopt;
    }
  }
  if (day < 1 || day > 31 || month < 0 || year < 1970 || hour < 0 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::tm fields{};
  fields.tm_year = year - 1900;
  fields.tm_mon = month;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  const std::time_t when = ::timegm(&fields);
  if (when == -1) return std::nullopt;
  return when;
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
  const auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  const long long seconds = static_cast<long long>(*when) - static_cast<long long>(std::time(nullptr));
  return std::chrono::seconds(std::clamp(seconds, 0LL, max_seconds));
}

// Connection failures and timeouts are worth another attempt; so is a response
// cut short (or not even begun), but not one that is not HTTP.
bool is_retryable(const error_code& error) {
  if (error.category() == make_error_code(bhttp::error::end_of_stream).category())
    return error == bhttp::error::end_of_stream || error == bhttp::error::partial_message;
  return true;
}

bool is_retryable(unsigned status) { return status == 429 || status == 502 || status == 503 || status == 504; }

bool is_reserved_header(std::string_view name) {
  for (const std::string_view reserved :
       {"content-type", "content-encoding", "content-length", "transfer-encoding", "expect"}) {
    if (text::iequals(name, reserved)) return true;
  }
  return false;
}

std::string describe(const error_code& error) {
  return error == beast::error::timeout ? std::string("timed out") : error.message();
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
    if (const auto parsed = parse_http_url(endpoint.value); !parsed.url)
      throw std::invalid_argument(endpoint.name + ": " + parsed.problem + ", got '" + endpoint.value + "'");
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

  // Only for logging the start of an error response; a larger one fails the attempt.
  static constexpr std::uint64_t max_response_body = 8 * 1024 * 1024;
  static constexpr std::uint32_t max_response_header = 64 * 1024;

  OtlpHttpExporterOptions options;
  Resource resource;
  InstrumentationScope scope;
  ExporterStats stats;

  HttpUrl url;
  std::optional<asio::ip::address> address;  // the host when it is an IP address, which needs no resolving

  // A blocking HTTP/1.1 client: its own io_context, run only by export_spans
  // (on the batch processor's thread) until the operation at hand completes.
  // The stream's expiry bounds every operation on it, so each completes by the
  // attempt's deadline. The connection is kept for the next export while the
  // server leaves it open.
  asio::io_context io{1};
  tcp::resolver resolver{io};
  beast::tcp_stream stream{io};
  bool connected = false;
  beast::flat_buffer buffer;
  bhttp::request<bhttp::span_body<const char>> request;

  z_stream zstream{};
  bool zstream_ready = false;

  std::string body;        // the encoded request, reused across exports
  std::string compressed;  // its gzip form, likewise

  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> shut_down{false};

  std::mt19937_64 random{std::random_device{}()};
  RateLimitedWarnings warnings;

  Impl(OtlpHttpExporterOptions options_, Resource resource_, InstrumentationScope scope_)
      : options(std::move(options_)), resource(std::move(resource_)), scope(std::move(scope_)) {
    auto parsed = parse_http_url(options.endpoint);
    if (!parsed.url)
      throw std::invalid_argument("OTLP endpoint: " + parsed.problem + ", got '" + options.endpoint + "'");
    url = std::move(*parsed.url);
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
    error_code not_an_address;
    const auto literal = asio::ip::make_address(url.host, not_an_address);
    if (!not_an_address) address = literal;

    request.method(bhttp::verb::post);
    request.target(url.target);
    request.version(11);
    for (std::size_t i = 0; i < options.headers.size(); ++i) {
      const auto& [name, raw_value] = options.headers[i];
      const auto value = text::trim(raw_value, text::ascii_whitespace);
      if (!is_token(name) || !is_safe_header_value(value)) {
        spdlog::warn("OTLP exporter: leaving out header {}: not a valid header name or value", i + 1);
        continue;
      }
      if (is_reserved_header(name)) {
        spdlog::warn("OTLP exporter: leaving out header '{}': the exporter sets it", name);
        continue;
      }
      request.insert(name, value);
    }
    // A Host or User-Agent among the headers replaces the exporter's own.
    if (request.find(bhttp::field::host) == request.end()) request.set(bhttp::field::host, url.authority);
    if (request.find(bhttp::field::user_agent) == request.end())
      request.set(bhttp::field::user_agent, "OTel-OTLP-Exporter-Cpp (pokedex-stack telemetry)");
    request.set(bhttp::field::content_type, "application/x-protobuf");
    if (options.gzip) request.set(bhttp::field::content_encoding, "gzip");

    if (options.gzip) {
      // 15 + 16: the largest window, with a gzip rather than a zlib wrapper.
      if (deflateInit2(&zstream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("cannot initialise zlib");
      zstream_ready = true;
    }
  }

  void release() {
    if (zstream_ready) deflateEnd(&zstream);
    zstream_ready = false;
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

  // ---- the HTTP client ----------------------------------------------------------

  // Starts an operation on `stream` with a completion handler, then runs the
  // io_context until that handler has run. The stream's expiry ends the
  // operation at the latest. (The handler shares what it sets, so that even an
  // exception out of run_one leaves it nothing dangling.)
  template <class Initiation>
  error_code run(Initiation&& initiate) {
    auto result = std::make_shared<std::optional<error_code>>();
    std::forward<Initiation>(initiate)([result](const error_code& error, auto&&...) { *result = error; });
    while (!*result) {
      if (io.stopped()) io.restart();
      if (io.run_one() == 0 && !*result) return asio::error::operation_aborted;  // cannot happen: nothing pending
    }
    return **result;
  }

  // The host's addresses, waiting until the deadline at most. A lookup that
  // outlives it is cancelled and left to finish on its own (the resolver runs
  // getaddrinfo on a thread of its own); its handler owns what it touches.
  error_code resolve(Clock::time_point deadline, std::vector<tcp::endpoint>& endpoints) {
    struct Lookup {
      bool done = false;
      error_code error;
      std::vector<tcp::endpoint> endpoints;
    };
    auto lookup = std::make_shared<Lookup>();
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [lookup](const error_code& error, const tcp::resolver::results_type& results) {
                             lookup->done = true;
                             lookup->error = error;
                             for (const auto& entry : results) lookup->endpoints.push_back(entry.endpoint());
                           });
    while (!lookup->done) {
      if (Clock::now() >= deadline) {
        resolver.cancel();
        return beast::error::timeout;
      }
      if (io.stopped()) io.restart();
      io.run_one_until(deadline);
    }
    endpoints = std::move(lookup->endpoints);
    return lookup->error;
  }

  void disconnect() {
    stream.close();
    connected = false;
    buffer.clear();
  }

  // Whether the kept connection still looks usable: the server has not closed
  // it (nor sent anything, which an idle HTTP/1.1 connection never should).
  bool still_open() {
    if (!stream.socket().is_open()) return false;
    char byte = 0;
    const auto received = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::optional<Outcome> connect(Clock::time_point deadline) {
    std::vector<tcp::endpoint> endpoints;
    if (address) {
      endpoints.emplace_back(*address, url.port);
    } else if (const auto error = resolve(deadline, endpoints)) {
      return Outcome{false, true, std::nullopt, "cannot resolve " + url.host + ": " + describe(error)};
    }
    stream.expires_at(deadline);
    if (const auto error = run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); })) {
      disconnect();
      return Outcome{false, true, std::nullopt, "cannot connect to " + url.authority + ": " + describe(error)};
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    stream.socket().set_option(asio::socket_base::keep_alive(true), ignored);
    connected = true;
    buffer.clear();
    return std::nullopt;
  }

  // One request and its response on the open connection. `stale` when it
  // failed before a byte of response came back in a way that means the server
  // had closed the connection: on a reused one, worth sending again at once.
  struct Exchange {
    Outcome outcome;
    bool stale = false;
  };

  Exchange exchange(Clock::time_point deadline) {
    Exchange result;
    stream.expires_at(deadline);
    if (const auto error = run([&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); })) {
      disconnect();
      result.stale = error != beast::error::timeout;
      result.outcome = {false, true, std::nullopt, "sending the request failed: " + describe(error)};
      return result;
    }
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    do {  // an interim 1xx response is followed by the real one
      parser.emplace();
      parser->header_limit(max_response_header);
      parser->body_limit(max_response_body);
      const auto error = run([&](auto handler) { bhttp::async_read(stream, buffer, *parser, std::move(handler)); });
      if (error) {
        disconnect();
        result.stale = !parser->got_some() &&
                       (error == bhttp::error::end_of_stream || error == asio::error::connection_reset ||
                        error == asio::error::eof);
        result.outcome = {false, is_retryable(error), std::nullopt, "reading the response failed: " + describe(error)};
        return result;
      }
    } while (parser->get().result_int() >= 100 && parser->get().result_int() < 200 &&
             parser->get().result_int() != 101);
    stream.expires_never();

    const auto& response = parser->get();
    const unsigned status = response.result_int();
    if (!response.keep_alive() || status == 101) disconnect();
    if (status >= 200 && status < 300) {
      result.outcome.success = true;
      return result;
    }
    result.outcome.retryable = is_retryable(status);
    if (result.outcome.retryable) {
      if (const auto retry_after = response.find(bhttp::field::retry_after); retry_after != response.end())
        result.outcome.retry_after = parse_retry_after(text::trim(retry_after->value(), text::ascii_whitespace));
    }
    result.outcome.problem = "HTTP " + std::to_string(status);
    // Keep the start of an error response for the log, printable characters only.
    std::string excerpt;
    for (const char c : response.body()) {
      if (excerpt.size() >= 200) break;
      if (c >= 0x20 && c < 0x7f) excerpt.push_back(c);
    }
    if (!excerpt.empty()) result.outcome.problem += " (" + excerpt + ")";
    return result;
  }

  Outcome attempt(const std::string& payload, std::chrono::milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    request.body() = {payload.data(), payload.size()};
    request.prepare_payload();
    bool reused = connected;
    if (reused && !still_open()) {
      disconnect();
      reused = false;
    }
    while (true) {
      if (!connected) {
        if (auto failure = connect(deadline)) return std::move(*failure);
      }
      auto result = exchange(deadline);
      if (!(result.stale && reused)) return std::move(result.outcome);
      // The server closed the kept connection as the request went out: once
      // more on a new one, within the same attempt.
      reused = false;
    }
  }

  // ---- retries --------------------------------------------------------------------

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
