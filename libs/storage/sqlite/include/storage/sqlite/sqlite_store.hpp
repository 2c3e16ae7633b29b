#pragma once
#include <pokedex/store.hpp>

#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace storage {

// The embedded backend. A database without the schema is seeded from the SQL
// compiled into the binary on open; a file database keeps it from then on.
class SqliteStore final : public pokedex::PokedexStore {
 public:
  // A file path, ":memory:" (private to this connection), or an SQLite URI such
  // as shared_memory_uri. Throws StorageUnavailable if it cannot open or seed.
  explicit SqliteStore(const std::string& path);

  // An in-memory database that every connection of this process opening the
  // same URI shares, so a pool holds one copy of the data, not one per worker.
  // It lives while at least one connection to it is open.
  static constexpr const char* shared_memory_uri = "file:pokedex?mode=memory&cache=shared";
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::optional<pokedex::Pokemon> find_pokemon(int id, pokedex::Language language) override;
  pokedex::Listing search_by_name(std::string_view name_prefix, pokedex::Language language,
                                  pokedex::Page page) override;
  std::optional<pokedex::Listing> list_by_type(std::string_view type_slug, pokedex::Language language,
                                               pokedex::Page page) override;
  std::optional<pokedex::Listing> list_by_generation(int generation, pokedex::Language language,
                                                     pokedex::Page page) override;
  int max_pokemon_id() override;
  void ping() override;
  // BEGIN and COMMIT: the queries between them neither take nor release the
  // database's read lock (and, in a shared cache, its table locks) each time.
  bool begin_read_transaction() override;
  void end_read_transaction() override;

 private:
  class Statement;
  struct Statements;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;  // finalised before the connection closes
};

}  // namespace storage
