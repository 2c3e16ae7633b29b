#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace storage {

// Where the Pokédex lives, from one URL:
//   sqlite::memory:                      embedded, seeded at start (the default)
//   sqlite:///var/lib/pokedex.db         embedded, persistent (seeded on first use)
//   mysql://user[:password]@host[:port]/database
struct DatabaseUrl {
  enum class Backend { sqlite, mysql };
  Backend backend = Backend::sqlite;
  std::string sqlite_path = ":memory:";
  std::string user;
  std::string password;
  std::string host;
  std::uint16_t port = 3306;
  std::string database;

  // The URL with any password masked, safe for logs.
  std::string redacted() const;
};

// Throws std::invalid_argument explaining what is wrong.
DatabaseUrl parse_database_url(std::string_view url);

}  // namespace storage
