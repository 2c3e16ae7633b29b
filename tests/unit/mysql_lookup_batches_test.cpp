// MysqlRepository's lookup batches against the MariaDB of the CTest fixture
// `mariadb` (python/stackkit/mariadb.py), found through POKEDEX_STATE_DIR.
// Queries are counted twice: by the observer the repository tells, and by
// the server's own Com_stmt_execute.
#include <storage/mysql/mysql_repository.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <gtest/gtest.h>
#include <mysql.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using pokedex::Language;
using pokedex::Pokemon;

struct Fixture {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string socket;
  std::string user;
  std::string password;
  int pid = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<Fixture> fixture() {
  const char* state_dir = std::getenv("POKEDEX_STATE_DIR");
  if (!state_dir) return std::nullopt;
  const std::string text = read_file(std::string(state_dir) + "/mariadb/state.json");
  if (text.empty()) return std::nullopt;
  const auto state = boost::json::parse(text).as_object();
  Fixture f;
  f.port = static_cast<std::uint16_t>(state.at("port").as_int64());
  f.socket = std::string(state.at("socket").as_string());
  f.user = std::string(state.at("app_user").as_string());
  f.password = read_file(std::string(state.at("app_password_file").as_string()));
  f.pid = static_cast<int>(state.at("pid").as_int64());
  return f;
}

// The server's count of executed prepared statements, asked as root over the socket.
long statements_executed(const Fixture& f) {
  MYSQL* mysql = mysql_init(nullptr);
  if (!mysql_real_connect(mysql, nullptr, "root", nullptr, nullptr, 0, f.socket.c_str(), 0)) {
    ADD_FAILURE() << "root connection: " << mysql_error(mysql);
    mysql_close(mysql);
    return -1;
  }
  long count = -1;
  if (mysql_query(mysql, "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'") == 0) {
    MYSQL_RES* result = mysql_store_result(mysql);
    if (MYSQL_ROW row = mysql_fetch_row(result)) count = std::stol(row[1]);
    mysql_free_result(result);
  }
  mysql_close(mysql);
  return count;
}

// Counts the queries the repository says it ran and the lookups they answered.
class CountingObserver final : public pokedex::LookupObserver {
 public:
  explicit CountingObserver(std::vector<std::size_t>& sizes) : sizes_(sizes) {}
  void query_started(const Query& query, std::span<LookupObserver* const> others) override {
    sizes_.push_back(query.lookups);
    others_ = others.size();
  }
  void query_ended(const std::exception*) override {}
  std::size_t others_ = 0;

 private:
  std::vector<std::size_t>& sizes_;
};

struct Outcome {
  bool done = false;
  std::optional<Pokemon> found;
  std::string error;  // what() of a StorageUnavailable
};

struct Wanted {
  int id;
  Language language;
};

const std::vector<Wanted> wanted = {{25, Language::en},  {6, Language::fr},    {25, Language::en},
                                    {0, Language::en},   {9999, Language::fr}, {1025, Language::en},
                                    {150, Language::fr}, {25, Language::fr},   {132, Language::en},
                                    {-3, Language::en},  {83, Language::fr},   {700, Language::en},
                                    {1, Language::fr},   {812, Language::en},  {133, Language::en}};

class LookupBatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = fixture();
    // ctest starts the fixture (fixture.mariadb.start) before these tests;
    // without it they fail rather than pass unexercised.
    if (!found) FAIL() << "no MariaDB fixture state under POKEDEX_STATE_DIR (run through ctest)";
    db_ = *found;
  }

  storage::MysqlOptions options(std::size_t pool, std::size_t max_batch) const {
    storage::MysqlOptions o;
    o.host = db_.host;
    o.port = db_.port;
    o.user = db_.user;
    o.password = db_.password;
    o.connections_per_loop = pool;
    o.max_lookup_batch = max_batch;
    o.max_wait = std::chrono::seconds(60);
    o.query_timeout = std::chrono::seconds(60);
    o.connect_timeout = std::chrono::seconds(60);
    return o;
  }

  // Starts a lookup on the loop; its outcome lands in `into`.
  void start(storage::MysqlRepository& repository, int id, Language language, Outcome& into,
             pokedex::LookupObserver* observer = nullptr) {
    asio::co_spawn(
        io_,
        [&repository, id, language, &into, observer]() -> asio::awaitable<void> {
          try {
            // Two statements: gcc 12 mishandles co_await in both arms of ?:.
            if (observer)
              into.found = co_await repository.find_pokemon_observed(id, language, *observer);
            else
              into.found = co_await repository.find_pokemon(id, language);
          } catch (const pokedex::StorageUnavailable& error) {
            into.error = error.what();
          }
          into.done = true;
        },
        asio::detached);
  }

  // Runs the loop until `done` holds; the pool's sweeper keeps it busy forever.
  void run_until(const std::function<bool()>& done) {
    while (!done()) io_.run_one();
  }

  std::optional<Pokemon> lookup_alone(storage::MysqlRepository& repository, int id, Language language) {
    Outcome outcome;
    start(repository, id, language, outcome);
    run_until([&] { return outcome.done; });
    EXPECT_EQ(outcome.error, "");
    return outcome.found;
  }

  // The repository's pool on this loop connected and idle.
  void warm_up(storage::MysqlRepository& repository) { ASSERT_TRUE(lookup_alone(repository, 1, Language::en)); }

  // Starts a lookup of every wanted id in one turn of the loop, then runs the
  // loop until each has its outcome.
  void look_up_all_wanted(storage::MysqlRepository& repository, std::vector<Outcome>& outcomes,
                          std::vector<CountingObserver>& observers) {
    for (std::size_t i = 0; i < wanted.size(); ++i)
      start(repository, wanted[i].id, wanted[i].language, outcomes[i], &observers[i]);
    run_until(
        [&] { return std::all_of(outcomes.begin(), outcomes.end(), [](const auto& each) { return each.done; }); });
  }

  Fixture db_;
  asio::io_context io_;
};

void expect_same(const std::optional<Pokemon>& got, const std::optional<Pokemon>& expected, int id) {
  ASSERT_EQ(got.has_value(), expected.has_value()) << "id " << id;
  if (!got) return;
  EXPECT_EQ(got->id, expected->id);
  EXPECT_EQ(got->slug, expected->slug);
  EXPECT_EQ(got->name, expected->name);
  EXPECT_EQ(got->name_language, expected->name_language);
  EXPECT_EQ(got->types, expected->types);
  EXPECT_EQ(got->generation, expected->generation);
  EXPECT_EQ(got->weight, expected->weight);
  EXPECT_EQ(got->base_stats.speed, expected->base_stats.speed);
}

TEST_F(LookupBatchesTest, ConcurrentLookupsShareQueriesAndEachGetsItsOwnRow) {
  storage::MysqlRepository alone(options(1, 1));
  std::vector<std::optional<Pokemon>> expected;
  for (const auto& w : wanted) expected.push_back(lookup_alone(alone, w.id, w.language));

  storage::MysqlRepository batched(options(1, 64));
  warm_up(batched);
  const long before = statements_executed(db_);
  std::vector<std::size_t> sizes;
  std::vector<CountingObserver> observers(wanted.size(), CountingObserver(sizes));
  std::vector<Outcome> outcomes(wanted.size());
  // Started in one turn of the loop: one batch per language, run one after
  // the other on the one connection.
  look_up_all_wanted(batched, outcomes, observers);
  const long executed = statements_executed(db_) - before;

  for (std::size_t i = 0; i < wanted.size(); ++i) {
    EXPECT_EQ(outcomes[i].error, "") << "id " << wanted[i].id;
    expect_same(outcomes[i].found, expected[i], wanted[i].id);
  }
  // The English batch opened first.
  const std::size_t french = 6;
  EXPECT_EQ(sizes, (std::vector<std::size_t>{wanted.size() - french, french}));
  EXPECT_EQ(executed, 2);
  EXPECT_EQ(observers[0].others_, wanted.size() - french - 1) << "the batch's first observer hears of the others";
  EXPECT_EQ(observers[1].others_, french - 1);
}

TEST_F(LookupBatchesTest, BatchSizeOneQueriesEachLookupAlone) {
  storage::MysqlRepository alone(options(1, 1));
  warm_up(alone);
  const long before = statements_executed(db_);
  std::vector<std::size_t> sizes;
  std::vector<CountingObserver> observers(wanted.size(), CountingObserver(sizes));
  std::vector<Outcome> outcomes(wanted.size());
  look_up_all_wanted(alone, outcomes, observers);
  EXPECT_EQ(statements_executed(db_) - before, static_cast<long>(wanted.size()));
  EXPECT_EQ(sizes, std::vector<std::size_t>(wanted.size(), 1));
  for (std::size_t i = 0; i < wanted.size(); ++i) EXPECT_EQ(outcomes[i].error, "");
  EXPECT_EQ(outcomes[0].found->name, "Pikachu");
}

// SIGSTOP: connections stay open but nothing answers, as with a hung server.
class FrozenDatabase {
 public:
  // Returns once every thread of the server has stopped: SIGSTOP takes
  // effect as each thread leaves the kernel, and one still finishing a
  // system call could otherwise answer a query sent just after.
  explicit FrozenDatabase(int pid) : pid_(pid) {
    ::kill(pid_, SIGSTOP);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!all_threads_stopped() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_TRUE(all_threads_stopped()) << "mariadbd " << pid_ << " did not stop";
  }
  ~FrozenDatabase() { thaw(); }
  void thaw() {
    if (pid_ != 0) ::kill(pid_, SIGCONT);
    pid_ = 0;
  }

 private:
  bool all_threads_stopped() const {
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto after_name = line.rfind(')');
      if (after_name == std::string::npos || line.size() < after_name + 3) return false;
      const char state = line[after_name + 2];
      if (state != 'T' && state != 't') return false;
    }
    return true;
  }

  int pid_;
};

TEST_F(LookupBatchesTest, AFailedBatchFailsEveryLookupInItAndTheNextBatchRecovers) {
  auto o = options(1, 64);
  o.query_timeout = std::chrono::milliseconds(300);
  o.connect_timeout = std::chrono::milliseconds(300);
  o.reconnect_backoff_initial = std::chrono::milliseconds(10);
  o.reconnect_backoff_max = std::chrono::milliseconds(10);
  storage::MysqlRepository repository(o);
  warm_up(repository);

  std::vector<Outcome> outcomes(6);
  {
    FrozenDatabase frozen(db_.pid);
    // One batch, past its query's deadline.
    for (std::size_t i = 0; i < outcomes.size(); ++i)
      start(repository, static_cast<int>(i + 1), Language::en, outcomes[i]);
    run_until(
        [&] { return std::all_of(outcomes.begin(), outcomes.end(), [](const auto& each) { return each.done; }); });
  }
  for (const auto& outcome : outcomes) {
    EXPECT_NE(outcome.error, "");
    EXPECT_FALSE(outcome.found);
  }

  // Back: a lookup gets through once the backoff allows, then a batch does.
  std::optional<Pokemon> first;
  for (int attempt = 0; attempt < 3000 && !first; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the reconnect backoff
    Outcome outcome;
    start(repository, 25, Language::en, outcome);
    run_until([&] { return outcome.done; });
    first = outcome.found;
  }
  ASSERT_TRUE(first);
  std::vector<std::size_t> sizes;
  std::vector<CountingObserver> observers(5, CountingObserver(sizes));
  std::vector<Outcome> again(observers.size());
  for (std::size_t i = 0; i < again.size(); ++i)
    start(repository, static_cast<int>(i + 1), Language::en, again[i], &observers[i]);
  run_until([&] { return std::all_of(again.begin(), again.end(), [](const auto& each) { return each.done; }); });
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].error, "");
    ASSERT_TRUE(again[i].found);
    EXPECT_EQ(again[i].found->id, static_cast<int>(i + 1));
  }
  EXPECT_EQ(sizes, std::vector<std::size_t>{again.size()});
}

TEST_F(LookupBatchesTest, ALookupPastItsOwnDeadlineLeavesTheBatchAlone) {
  auto o = options(1, 64);
  // Long enough for a thawed server to answer a query and a batch.
  o.max_wait = std::chrono::seconds(3);
  storage::MysqlRepository repository(o);
  warm_up(repository);

  Outcome running, expired, later;
  std::vector<std::size_t> sizes;
  CountingObserver observer(sizes);
  {
    FrozenDatabase frozen(db_.pid);
    start(repository, 4, Language::en, running, &observer);  // holds the only connection until the thaw
    run_until([&] { return !sizes.empty(); });
    start(repository, 5, Language::en, expired);  // waits in the next batch past its deadline
    run_until([&] { return expired.done; });
    EXPECT_FALSE(running.done);
    start(repository, 7, Language::en, later);  // a fresh deadline, in the batch the expired one left
    io_.poll();
  }
  run_until([&] { return running.done && later.done; });
  EXPECT_NE(expired.error.find("waited too long"), std::string::npos) << expired.error;
  EXPECT_EQ(running.error, "");
  ASSERT_TRUE(running.found);
  EXPECT_EQ(running.found->name, "Charmander");
  EXPECT_EQ(later.error, "");
  ASSERT_TRUE(later.found);
  EXPECT_EQ(later.found->name, "Squirtle");
}

}  // namespace
