#include <storage/database_url.hpp>

#include <gtest/gtest.h>

using storage::DatabaseUrl;

TEST(DatabaseUrl, SqliteInMemoryAndFile) {
  EXPECT_EQ(storage::parse_database_url("sqlite::memory:").sqlite_path, ":memory:");
  const auto file = storage::parse_database_url("sqlite:///var/lib/pokedex.db");
  EXPECT_EQ(file.backend, DatabaseUrl::Backend::sqlite);
  EXPECT_EQ(file.sqlite_path, "/var/lib/pokedex.db");
}

TEST(DatabaseUrl, MysqlWithAndWithoutPortAndPassword) {
  const auto url = storage::parse_database_url("mysql://pokedex_app@db.local:3307/pokedex");
  EXPECT_EQ(url.backend, DatabaseUrl::Backend::mysql);
  EXPECT_EQ(url.user, "pokedex_app");
  EXPECT_EQ(url.host, "db.local");
  EXPECT_EQ(url.port, 3307);
  EXPECT_EQ(url.database, "pokedex");
  EXPECT_TRUE(url.password.empty());

  const auto with_password = storage::parse_database_url("mysql://u:p%40ss@127.0.0.1/pokedex");
  EXPECT_EQ(with_password.port, 3306);
  EXPECT_EQ(with_password.password, "p@ss");
  EXPECT_EQ(with_password.redacted(), "mysql://u:***@127.0.0.1:3306/pokedex");
}

TEST(DatabaseUrl, Ipv6HostsAndEncodedParts) {
  const auto url = storage::parse_database_url("mysql://app%2Bro@[::1]:3310/poke%64ex");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 3310);
  EXPECT_EQ(url.user, "app+ro");
  EXPECT_EQ(url.database, "pokedex");
  EXPECT_EQ(storage::parse_database_url("mysql://u@[::1]/d").port, 3306);
}

TEST(DatabaseUrl, RejectsWhatItCannotServe) {
  for (const char* bad : {"", "postgres://u@h/d", "sqlite://relative.db", "sqlite:", "mysql://h/d", "mysql://u@/d",
                          "mysql://u@h", "mysql://u@h/", "mysql://u@h/a/b", "mysql://u@h:0/d", "mysql://u@h/d?x=1",
                          "mysql://u@h:99999/d", "mysql://u@h:/d", "mysql://u@h:x/d", "mysql://u@[::1/d",
                          "mysql://u@[::1]x/d", "mysql://u:%zz@h/d", "mysql://@h/d"})
    EXPECT_THROW(storage::parse_database_url(bad), std::invalid_argument) << bad;
}
