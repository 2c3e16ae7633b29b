#include "storage/database_url.hpp"
#include "text/text.hpp"

#include <optional>

namespace storage {
namespace {

// Percent-decodes one URL component; `what` names it in the error.
std::string decode(std::string_view component, const char* what) {
  auto decoded = text::percent_decode(component);
  if (!decoded) throw std::invalid_argument(std::string("mysql URL has a malformed ") + what);
  return *std::move(decoded);
}

constexpr std::string_view sqlite_scheme = "sqlite://";
constexpr std::string_view mysql_scheme = "mysql://";
constexpr const char* needs_user = "mysql URL needs a user: mysql://user@host/database";

// "user" or "user:password", each percent-encoded.
void parse_credentials(std::string_view userinfo, DatabaseUrl& parsed) {
  const auto colon = userinfo.find(':');
  parsed.user = decode(userinfo.substr(0, colon), "user");
  if (colon != std::string_view::npos) parsed.password = decode(userinfo.substr(colon + 1), "password");
  if (parsed.user.empty()) throw std::invalid_argument(needs_user);
}

// Sets parsed.host from "host", "host:port", "[v6]" or "[v6]:port" and
// returns the port's text when there is one.
std::optional<std::string_view> parse_host(std::string_view host_port, DatabaseUrl& parsed) {
  std::optional<std::string_view> port;
  if (host_port.starts_with('[')) {  // an IPv6 literal: [::1]:3306
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("mysql URL has an unclosed IPv6 address");
    parsed.host = std::string(host_port.substr(1, close - 1));
    const auto after = host_port.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) throw std::invalid_argument("mysql URL has a malformed host");
    if (!after.empty()) port = after.substr(1);
  } else {
    const auto port_colon = host_port.rfind(':');
    parsed.host = std::string(host_port.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port = host_port.substr(port_colon + 1);
  }
  if (parsed.host.empty()) throw std::invalid_argument("mysql URL needs a host: mysql://user@host/database");
  return port;
}

std::uint16_t parse_port(std::string_view port) {
  const bool numeric = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string_view::npos;
  const unsigned long number = numeric ? std::stoul(std::string(port)) : 0;
  if (number == 0 || number > 65535) throw std::invalid_argument("mysql URL has an invalid port: " + std::string(port));
  return static_cast<std::uint16_t>(number);
}

// What follows "mysql://": user[:password]@host[:port]/database.
void parse_mysql(std::string_view rest, DatabaseUrl& parsed) {
  parsed.backend = DatabaseUrl::Backend::mysql;
  if (rest.find_first_of("?#") != std::string_view::npos)
    throw std::invalid_argument("mysql URL takes no query or fragment");
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  const auto at = authority.rfind('@');
  if (at == std::string_view::npos || at == 0) throw std::invalid_argument(needs_user);
  parse_credentials(authority.substr(0, at), parsed);
  if (const auto port = parse_host(authority.substr(at + 1), parsed)) parsed.port = parse_port(*port);
  if (path.empty() || path.find('/') != std::string_view::npos)
    throw std::invalid_argument("mysql URL needs exactly one database name: mysql://user@host/database");
  parsed.database = decode(path, "database name");
}

}  // namespace

DatabaseUrl parse_database_url(std::string_view url) {
  DatabaseUrl parsed;
  if (url == "sqlite::memory:") return parsed;
  if (url.starts_with(sqlite_scheme)) {
    parsed.sqlite_path = std::string(url.substr(sqlite_scheme.size()));
    if (parsed.sqlite_path.empty() || parsed.sqlite_path.front() != '/')
      throw std::invalid_argument("sqlite URL needs an absolute path: sqlite:///path/to/pokedex.db");
    return parsed;
  }
  if (!url.starts_with(mysql_scheme))
    throw std::invalid_argument("unsupported database URL scheme; use sqlite::memory:, sqlite:///path or "
                                "mysql://user@host:port/database");
  parse_mysql(url.substr(mysql_scheme.size()), parsed);
  return parsed;
}

std::string DatabaseUrl::redacted() const {
  if (backend == Backend::sqlite) return sqlite_path == ":memory:" ? "sqlite::memory:" : "sqlite://" + sqlite_path;
  return "mysql://" + user + (password.empty() ? "" : ":***") + "@" + host + ":" + std::to_string(port) + "/" +
         database;
}

}  // namespace storage
