#pragma once
#include "pokedex/store.hpp"

#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace pokedex {

// The embedded backend. An in-memory database is seeded from the SQL compiled
// into the binary; a file database is seeded on first use and persists.
class SqliteStore final : public PokedexStore {
 public:
  // path ":memory:" or a file path. Throws StorageUnavailable if it cannot open or seed.
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::optional<Pokemon> find_pokemon(int id, Language language) override;
  Listing search_by_name(std::string_view name_prefix, Language language, Page page) override;
  std::optional<Listing> list_by_type(std::string_view type_slug, Language language, Page page) override;
  std::optional<Listing> list_by_generation(int generation, Language language, Page page) override;
  int max_pokemon_id() override;
  void ping() override;

 private:
  class Statement;
  struct Statements;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;  // finalised before the connection closes
};

}  // namespace pokedex
