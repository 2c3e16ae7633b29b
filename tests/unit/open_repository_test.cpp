#include "storage_test_support.hpp"

#include <storage/open_repository.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace {

using storage_test::run;

}  // namespace

TEST(OpenRepository, EveryWorkerAnswersFromTheEmbeddedDatabase) {
  const auto repository = storage::open_repository(storage::parse_database_url("sqlite::memory:"),
                                                   {.pool = {.connections = 3},
                                                    .sqlite_execution = storage::SqliteExecution::worker_pool});
  EXPECT_EQ(repository->state().idle, 3u);
  for (int i = 0; i < 6; ++i) {
    const auto pikachu = run(repository->find_pokemon(25, pokedex::Language::en));
    ASSERT_TRUE(pikachu);
    EXPECT_EQ(pikachu->name, "Pikachu");
  }
  EXPECT_EQ(run(repository->max_pokemon_id()), 1025);
}

TEST(OpenRepository, AFileDatabaseIsSeededWhereTheUrlPoints) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("pokedex-open-repository-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    const auto repository = storage::open_repository(storage::parse_database_url("sqlite://" + path.string()),
                                                     {.pool = {.connections = 2}});
    EXPECT_EQ(repository->state().idle, 2u);  // a file may wait for the disk: worker threads by default
    EXPECT_EQ(run(repository->max_pokemon_id()), 1025);
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  std::filesystem::remove(path);
}

TEST(OpenRepository, AMysqlServerIsOnlyReachedOnFirstUse) {
  // Nothing listens there; opening neither connects nor fails.
  const auto url = storage::parse_database_url("mysql://app@127.0.0.1:1/pokedex");
  const auto repository = storage::open_repository(url, {});
  const auto state = repository->state();
  EXPECT_EQ(state.in_use + state.idle + state.waiting, 0u);
}
