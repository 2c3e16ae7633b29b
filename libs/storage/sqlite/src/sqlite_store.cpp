#include "storage/sqlite/sqlite_store.hpp"

#include "sqlite_memory.hpp"
#include "storage/sqlite/embedded_sql.hpp"

#include <pokedex/queries.hpp>
#include <pokedex/row_mapping.hpp>

#include <sqlite3.h>
#include <sys/mman.h>
#include <unistd.h>

namespace storage {

namespace queries = pokedex::queries;
using pokedex::Language;
using pokedex::Listing;
using pokedex::Page;
using pokedex::Pokemon;
using pokedex::StorageUnavailable;

class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement_, nullptr) != SQLITE_OK)
      throw StorageUnavailable(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Steps through one execution's rows; resetting on destruction releases the
  // read lock the statement holds while it has rows pending.
  class Cursor {
   public:
    explicit Cursor(Statement& statement) : statement_(statement) {}
    ~Cursor() { sqlite3_reset(statement_.statement_); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    bool next() { return statement_.next(); }
    int integer(int column) const { return statement_.integer(column); }
    bool is_null(int column) const { return statement_.is_null(column); }
    std::string_view text(int column) const { return statement_.text(column); }

   private:
    Statement& statement_;
  };

  // Binds the parameters in order and returns the cursor over the rows.
  template <class... Params>
  Cursor bind(const Params&... params) {
    int index = 0;
    (bind_one(++index, params), ...);
    return Cursor(*this);
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

// `sql` must be NUL-terminated, as the embedded literals are.
void execute_script(sqlite3* db, std::string_view sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.data(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StorageUnavailable("sqlite seed failed: " + message);
  }
}

// The embedded SQL is read once; handing its pages back keeps half a megabyte
// of read-only text out of the resident set (they would fault back in from the
// binary if ever read again).
void release_pages(std::string_view text) {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto address = reinterpret_cast<std::uintptr_t>(text.data());
  const auto begin = (address + page - 1) & ~(page - 1);
  const auto end = (address + text.size()) & ~(page - 1);
  if (end > begin) madvise(const_cast<char*>(text.data() + (begin - address)), end - begin, MADV_DONTNEED);
}

// Both settings take only before SQLite initialises, so they are made once,
// before the first connection opens; if something in the process initialised
// SQLite first, SQLite refuses them and keeps its defaults.
//
// SQLite counts every allocation under a process-wide mutex, for
// sqlite3_memory_used() and a soft heap limit, neither of which is used here;
// without the count a point query takes no lock for its allocations. And its
// memory comes from the threads' block pools (sqlite_memory.hpp says why).
void configure_sqlite() {
  static const bool configured = [] {
    sqlite_memory::use_block_pool();
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  static_cast<void>(configured);
}

bool has_schema(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pokemon'", -1, &statement,
                     nullptr);
  const bool found = statement != nullptr && sqlite3_step(statement) == SQLITE_ROW;
  sqlite3_finalize(statement);
  return found;
}

}  // namespace

struct SqliteStore::Statements {
  explicit Statements(sqlite3* db)
      : find(db, queries::find_pokemon),
        search(db, queries::search_by_name),
        by_type(db, queries::list_by_type),
        by_generation(db, queries::list_by_generation),
        type_exists(db, queries::type_exists),
        generation(db, queries::generation_exists),
        max_id(db, queries::max_pokemon_id),
        ping(db, queries::ping) {}
  Statement find, search, by_type, by_generation, type_exists, generation, max_id, ping;
};

SqliteStore::SqliteStore(const std::string& path) {
  configure_sqlite();
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StorageUnavailable("cannot open sqlite database '" + path + "': " + message);
  }
  try {
    // Where SQLite has lookaside (Debian's has not: see sqlite_memory.hpp),
    // its default pool is 120 KiB per connection, most of it unused by these
    // small point queries; a smaller one keeps idle memory down.
    sqlite3_db_config(db_, SQLITE_DBCONFIG_LOOKASIDE, nullptr, 256, 32);
    sqlite3_busy_timeout(db_, 5000);
    if (!has_schema(db_)) {
      execute_script(db_, embedded_schema_sql());
      execute_script(db_, embedded_seed_sql());
      release_pages(embedded_seed_sql());
    }
    statements_ = std::make_unique<Statements>(db_);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

SqliteStore::~SqliteStore() {
  statements_.reset();
  sqlite3_close(db_);
}

std::optional<Pokemon> SqliteStore::find_pokemon(int id, Language language) {
  auto cursor = statements_->find.bind(id, tag(language));
  if (!cursor.next()) return std::nullopt;
  return pokedex::rows::read_pokemon(cursor);
}

Listing SqliteStore::search_by_name(std::string_view name_prefix, Language language, Page page) {
  auto cursor = statements_->search.bind(tag(language), queries::like_prefix_pattern(name_prefix), page.limit + 1,
                                         page.offset);
  return pokedex::rows::read_listing(cursor, page);
}

std::optional<Listing> SqliteStore::list_by_type(std::string_view type_slug, Language language, Page page) {
  if (!statements_->type_exists.bind(type_slug).next()) return std::nullopt;
  auto cursor = statements_->by_type.bind(tag(language), type_slug, type_slug, page.limit + 1, page.offset);
  return pokedex::rows::read_listing(cursor, page);
}

std::optional<Listing> SqliteStore::list_by_generation(int generation, Language language, Page page) {
  if (!statements_->generation.bind(generation).next()) return std::nullopt;  // the temporary cursor resets at once
  auto cursor = statements_->by_generation.bind(tag(language), generation, page.limit + 1, page.offset);
  return pokedex::rows::read_listing(cursor, page);
}

int SqliteStore::max_pokemon_id() {
  auto cursor = statements_->max_id.bind();
  return cursor.next() ? cursor.integer(0) : 0;
}

void SqliteStore::ping() {
  if (!statements_->ping.bind().next()) throw StorageUnavailable("sqlite database answered no row");
}

bool SqliteStore::begin_read_transaction() {
  if (sqlite3_get_autocommit(db_) != 0) sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
  return sqlite3_get_autocommit(db_) == 0;
}

void SqliteStore::end_read_transaction() {
  // Nothing was written, so COMMIT only lets go of the snapshot; should it
  // fail, ROLLBACK does the same.
  if (sqlite3_get_autocommit(db_) == 0 && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace storage
