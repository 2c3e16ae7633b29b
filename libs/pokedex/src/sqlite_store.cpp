#include "pokedex/sqlite_store.hpp"

#include "pokedex/embedded_sql.hpp"
#include "queries.hpp"
#include "row_mapping.hpp"

#include <sqlite3.h>

namespace pokedex {

class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement_, nullptr) != SQLITE_OK)
      throw StorageUnavailable(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Resets the statement and binds the parameters in order; the returned
  // cursor steps through the rows.
  template <class... Params>
  Statement& bind(const Params&... params) {
    sqlite3_reset(statement_);
    int index = 0;
    (bind_one(++index, params), ...);
    return *this;
  }

  bool next() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StorageUnavailable(std::string("sqlite step failed: ") + sqlite3_errstr(rc));
  }

  int integer(int column) const { return sqlite3_column_int(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return {data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
  }

 private:
  void bind_one(int index, int value) { sqlite3_bind_int(statement_, index, value); }
  void bind_one(int index, std::string_view value) {
    sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }

  sqlite3_stmt* statement_ = nullptr;
};

namespace {

void execute_script(sqlite3* db, std::string_view sql) {
  char* error = nullptr;
  // sqlite3_exec needs a terminated string; the embedded views are terminated literals.
  if (sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StorageUnavailable("sqlite seed failed: " + message);
  }
}

bool has_schema(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pokemon'", -1,
                     &statement, nullptr);
  const bool found = statement && sqlite3_step(statement) == SQLITE_ROW;
  sqlite3_finalize(statement);
  return found;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StorageUnavailable("cannot open sqlite database '" + path + "': " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    if (!has_schema(db_)) {
      execute_script(db_, embedded_schema_sql());
      execute_script(db_, embedded_seed_sql());
    }
    find_ = std::make_unique<Statement>(db_, queries::find_pokemon);
    search_ = std::make_unique<Statement>(db_, queries::search_by_name);
    by_type_ = std::make_unique<Statement>(db_, queries::list_by_type);
    by_generation_ = std::make_unique<Statement>(db_, queries::list_by_generation);
    type_id_ = std::make_unique<Statement>(db_, queries::type_id_by_slug);
    generation_ = std::make_unique<Statement>(db_, queries::generation_exists);
    max_id_ = std::make_unique<Statement>(db_, queries::max_pokemon_id);
  } catch (...) {
    find_.reset(); search_.reset(); by_type_.reset(); by_generation_.reset();
    type_id_.reset(); generation_.reset(); max_id_.reset();
    sqlite3_close(db_);
    throw;
  }
}

SqliteStore::~SqliteStore() {
  find_.reset(); search_.reset(); by_type_.reset(); by_generation_.reset();
  type_id_.reset(); generation_.reset(); max_id_.reset();
  sqlite3_close(db_);
}

std::optional<Pokemon> SqliteStore::find_pokemon(int id, Language language) {
  auto& cursor = find_->bind(tag(language), id);
  if (!cursor.next()) return std::nullopt;
  return rows::read_pokemon(cursor, language);
}

Listing SqliteStore::search_by_name(std::string_view name_prefix, Language language, Page page) {
  auto& cursor = search_->bind(tag(language), tag(language), queries::like_prefix_pattern(name_prefix),
                               page.limit + 1, page.offset);
  return rows::read_listing(cursor, page);
}

std::optional<Listing> SqliteStore::list_by_type(std::string_view type_slug, Language language, Page page) {
  auto& type = type_id_->bind(type_slug);
  if (!type.next()) return std::nullopt;
  const int type_id = type.integer(0);
  auto& cursor = by_type_->bind(tag(language), type_id, type_id, page.limit + 1, page.offset);
  return rows::read_listing(cursor, page);
}

std::optional<Listing> SqliteStore::list_by_generation(int generation, Language language, Page page) {
  if (!generation_->bind(generation).next()) return std::nullopt;
  auto& cursor = by_generation_->bind(tag(language), generation, page.limit + 1, page.offset);
  return rows::read_listing(cursor, page);
}

int SqliteStore::max_pokemon_id() {
  auto& cursor = max_id_->bind();
  return cursor.next() ? cursor.integer(0) : 0;
}

void SqliteStore::ping() {
  if (!max_id_->bind().next()) throw StorageUnavailable("sqlite database answered no row");
}

}  // namespace pokedex
