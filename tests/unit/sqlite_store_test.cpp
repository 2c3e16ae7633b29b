#include <block_pool/block_pool.hpp>
#include <storage/sqlite/sqlite_store.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

using pokedex::Language;

namespace {

storage::SqliteStore& store() {
  static storage::SqliteStore seeded(":memory:");
  return seeded;
}

}  // namespace

TEST(SqliteStore, FindsAPokemonWithEveryField) {
  const auto pikachu = store().find_pokemon(25, Language::en);
  ASSERT_TRUE(pikachu);
  EXPECT_EQ(pikachu->name, "Pikachu");
  EXPECT_EQ(pikachu->slug, "pikachu");
  EXPECT_EQ(pikachu->generation, 1);
  EXPECT_EQ(pikachu->types, std::vector<std::string>{"electric"});
  EXPECT_EQ(pikachu->height, 4);
  EXPECT_EQ(pikachu->weight, 60);
  EXPECT_EQ(pikachu->base_stats.speed, 90);
  const auto bulbasaur = store().find_pokemon(1, Language::en);
  EXPECT_EQ(bulbasaur->types, (std::vector<std::string>{"grass", "poison"}));
}

// SQLite's memory comes from the threads' block pools: the store configures
// that before SQLite initialises, when it opens the process's first
// connection (each test runs in a process of its own).
TEST(SqliteStore, SqlitesMemoryComesFromTheThreadsBlockPool) {
  static_cast<void>(store());
  // A small block lends SQLite the whole of a pool block, to grow into.
  void* small = sqlite3_malloc(10);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(sqlite3_msize(small), block_pool::block_bytes - 8);
  std::memset(small, 'x', 10);
  void* same = sqlite3_realloc(small, 200);
  EXPECT_EQ(same, small);
  void* large = sqlite3_realloc(same, 1000);
  ASSERT_NE(large, nullptr);
  EXPECT_GE(sqlite3_msize(large), 1000U);
  EXPECT_EQ(std::string(static_cast<const char*>(large), 10), std::string(10, 'x'));
  sqlite3_free(large);

  // A lookup's row buffers, freed when its statement is reset, wait on the
  // thread's free list for the next lookup instead of going back to malloc.
  std::size_t kept = 0;
  std::thread lookup([&kept] {
    const bool found = store().find_pokemon(25, Language::en).has_value();
    kept = found ? block_pool::free_blocks() : 0;
  });
  lookup.join();
  EXPECT_GT(kept, 0U);
}

TEST(SqliteStore, NamesInTheRequestedLanguage) {
  EXPECT_EQ(store().find_pokemon(25, Language::ja)->name, "ピカチュウ");
  EXPECT_EQ(store().find_pokemon(25, Language::ja)->name_language, Language::ja);
  EXPECT_EQ(store().find_pokemon(25, Language::fr)->name, "Pikachu");
  EXPECT_EQ(store().find_pokemon(122, Language::de)->name, "Pantimos");
}

TEST(SqliteStore, EveryNumberFromOneTo1025AndNoOther) {
  EXPECT_EQ(store().max_pokemon_id(), 1025);
  for (int id = 1; id <= 1025; ++id) ASSERT_TRUE(store().find_pokemon(id, Language::en)) << id;
  EXPECT_FALSE(store().find_pokemon(0, Language::en));
  EXPECT_FALSE(store().find_pokemon(1026, Language::en));
}

TEST(SqliteStore, SearchesByCaseFoldedPrefixWithPages) {
  const auto first = store().search_by_name("pi", Language::en, {2, 0});
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_TRUE(first.has_more);
  EXPECT_EQ(first.items[0].name, "Pichu");
  const auto all = store().search_by_name("pi", Language::en, {100, 0});
  EXPECT_FALSE(all.has_more);
  for (const auto& item : all.items) EXPECT_TRUE(item.name.starts_with("Pi")) << item.name;
  EXPECT_EQ(store().search_by_name("flabé", Language::en, {10, 0}).items.at(0).name, "Flabébé");
}

TEST(SqliteStore, SearchTreatsWildcardsLiterally) {
  EXPECT_TRUE(store().search_by_name("%", Language::en, {10, 0}).items.empty());
  EXPECT_TRUE(store().search_by_name("_", Language::en, {10, 0}).items.empty());
  EXPECT_EQ(store().search_by_name("type: n", Language::en, {10, 0}).items.at(0).name, "Type: Null");
}

TEST(SqliteStore, ListsByTypeAndGeneration) {
  const auto fire = store().list_by_type("fire", Language::en, {3, 0});
  ASSERT_TRUE(fire);
  EXPECT_EQ(fire->items.at(0).name, "Charmander");
  const auto flying = store().list_by_type("flying", Language::en, {100, 0});
  // Secondary types count: Charizard is fire/flying.
  EXPECT_TRUE(std::any_of(flying->items.begin(), flying->items.end(), [](auto& p) { return p.id == 6; }));
  EXPECT_FALSE(store().list_by_type("nope", Language::en, {3, 0}));

  const auto gen9 = store().list_by_generation(9, Language::en, {100, 100});
  ASSERT_TRUE(gen9);
  EXPECT_EQ(gen9->items.back().id, 1025);
  EXPECT_FALSE(store().list_by_generation(10, Language::en, {3, 0}));
}

TEST(SqliteStore, FileDatabaseIsSeededOnceAndPersists) {
  const auto path = std::filesystem::temp_directory_path() / "pokedex-store-test.db";
  std::filesystem::remove(path);
  { storage::SqliteStore created(path.string()); }
  EXPECT_GT(std::filesystem::file_size(path), 100'000u);
  storage::SqliteStore reopened(path.string());
  EXPECT_EQ(reopened.find_pokemon(772, Language::en)->name, "Type: Null");
  std::filesystem::remove(path);
}

TEST(SqliteStore, UnopenablePathIsStorageUnavailable) {
  EXPECT_THROW(storage::SqliteStore("/nonexistent-dir/x.db"), pokedex::StorageUnavailable);
}

namespace {

// A second connection to a file database, for what the store cannot do.
class RawConnection {
 public:
  explicit RawConnection(const std::filesystem::path& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawConnection() { sqlite3_close(db_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  int execute(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  std::string text(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr);
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::filesystem::path fresh_database(const char* name) {
  auto path = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove(path);
  return path;
}

}  // namespace

TEST(SqliteStore, EntriesAreStoredInTheirPrimaryKey) {
  const auto path = fresh_database("pokedex-store-without-rowid.db");
  { storage::SqliteStore seeded(path.string()); }
  RawConnection raw(path);
  const auto sql = raw.text("SELECT sql FROM sqlite_master WHERE name = 'pokedex_entries'");
  EXPECT_TRUE(sql.ends_with("WITHOUT ROWID")) << sql;
  std::filesystem::remove(path);
}

TEST(SqliteStore, QueriesInAReadTransactionShareItsSnapshotUntilItEnds) {
  const auto path = fresh_database("pokedex-store-read-transaction.db");
  storage::SqliteStore store(path.string());
  RawConnection writer(path);
  ASSERT_TRUE(store.begin_read_transaction());
  EXPECT_TRUE(store.begin_read_transaction());  // already open: still the one
  EXPECT_EQ(store.find_pokemon(25, Language::en)->name, "Pikachu");
  // The store's read lock outlasts its query, so a writer cannot commit...
  const char* rename = "UPDATE pokedex_entries SET name = 'Pika' WHERE pokemon_id = 25 AND lang = 'en'";
  ASSERT_EQ(writer.execute("BEGIN IMMEDIATE"), SQLITE_OK);
  ASSERT_EQ(writer.execute(rename), SQLITE_OK);
  EXPECT_EQ(writer.execute("COMMIT"), SQLITE_BUSY);
  EXPECT_EQ(store.find_pokemon(25, Language::en)->name, "Pikachu");
  ASSERT_EQ(writer.execute("ROLLBACK"), SQLITE_OK);
  store.end_read_transaction();
  // ...until the transaction ends; the next query reads what it wrote.
  EXPECT_EQ(writer.execute(rename), SQLITE_OK);
  EXPECT_EQ(store.find_pokemon(25, Language::en)->name, "Pika");
  store.end_read_transaction();  // none open: nothing to do
  EXPECT_EQ(writer.execute("UPDATE pokedex_entries SET name = 'Pikachu' WHERE pokemon_id = 25 AND lang = 'en'"),
            SQLITE_OK);
  std::filesystem::remove(path);
}

TEST(SqliteStore, EachQueryAloneReleasesItsReadLock) {
  const auto path = fresh_database("pokedex-store-autocommit.db");
  storage::SqliteStore store(path.string());
  RawConnection writer(path);
  EXPECT_EQ(store.find_pokemon(25, Language::en)->name, "Pikachu");
  EXPECT_EQ(writer.execute("UPDATE pokedex_entries SET name = 'Pika' WHERE pokemon_id = 25 AND lang = 'en'"),
            SQLITE_OK);
  EXPECT_EQ(store.find_pokemon(25, Language::en)->name, "Pika");
  std::filesystem::remove(path);
}
