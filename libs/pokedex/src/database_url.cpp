#include "pokedex/database_url.hpp"

#include <boost/url/parse.hpp>

namespace pokedex {

DatabaseUrl parse_database_url(std::string_view url) {
  DatabaseUrl parsed;
  if (url == "sqlite::memory:") return parsed;
  if (url.starts_with("sqlite://")) {
    parsed.sqlite_path = std::string(url.substr(std::string_view("sqlite://").size()));
    if (parsed.sqlite_path.empty() || parsed.sqlite_path.front() != '/')
      throw std::invalid_argument("sqlite URL needs an absolute path: sqlite:///path/to/pokedex.db");
    return parsed;
  }
  if (!url.starts_with("mysql://"))
    throw std::invalid_argument("unsupported database URL scheme; use sqlite::memory:, sqlite:///path or "
                                "mysql://user@host:port/database");

  const auto view = boost::urls::parse_uri(url);
  if (!view) throw std::invalid_argument("malformed mysql URL: " + view.error().message());
  parsed.backend = DatabaseUrl::Backend::mysql;
  parsed.user = view->user();
  parsed.password = view->password();
  parsed.host = view->host();
  if (parsed.user.empty()) throw std::invalid_argument("mysql URL needs a user: mysql://user@host/database");
  if (parsed.host.empty()) throw std::invalid_argument("mysql URL needs a host: mysql://user@host/database");
  if (view->has_port()) {
    const std::string port(view->port());
    const bool numeric = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    const unsigned long number = numeric ? std::stoul(port) : 0;
    if (number == 0 || number > 65535) throw std::invalid_argument("mysql URL has an invalid port: " + port);
    parsed.port = static_cast<std::uint16_t>(number);
  }
  std::string path = view->path();
  if (path.size() < 2 || path.front() != '/' || path.find('/', 1) != std::string::npos)
    throw std::invalid_argument("mysql URL needs exactly one database name: mysql://user@host/database");
  parsed.database = path.substr(1);
  if (view->has_query() || view->has_fragment())
    throw std::invalid_argument("mysql URL takes no query or fragment");
  return parsed;
}

std::string DatabaseUrl::redacted() const {
  if (backend == Backend::sqlite) return sqlite_path == ":memory:" ? "sqlite::memory:" : "sqlite://" + sqlite_path;
  return "mysql://" + user + (password.empty() ? "" : ":***") + "@" + host + ":" + std::to_string(port) + "/" +
         database;
}

}  // namespace pokedex
