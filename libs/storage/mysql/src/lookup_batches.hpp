#pragma once
#include "storage/mysql/mysql_repository.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <pokedex/repository.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace storage::mysql {

class ConnectionPool;

// find_pokemon on one event loop. Lookups of one language that arrive in the
// same turn of the loop, or while its connections are all busy, join a batch
// instead of each queueing for a connection; when the batch gets one it runs
// as one query (WHERE pokemon_id IN (...)) and each lookup gets its own row,
// or nothing for an id that does not exist. A failed query fails every lookup
// in it; a lookup still waiting for a connection at its own deadline
// (options.max_wait) fails alone. A batch of one runs the single-row query,
// so a lone lookup costs the server what it did without batches; with
// options.max_lookup_batch 1 every lookup queries alone.
class LookupBatches {
 public:
  explicit LookupBatches(const MysqlOptions& options) : options_(options) {}

  static boost::asio::awaitable<std::optional<pokedex::Pokemon>> find(std::shared_ptr<ConnectionPool> pool, int id,
                                                                      pokedex::Language language,
                                                                      pokedex::LookupObserver* observer);

 private:
  struct Lookup {
    Lookup(int lookup_id, pokedex::LookupObserver* lookup_observer, boost::asio::steady_timer deadline)
        : id(lookup_id), observer(lookup_observer), timer(std::move(deadline)) {}
    enum class State { queued, running, done };
    int id;
    pokedex::LookupObserver* observer;
    boost::asio::steady_timer timer;  // its deadline while queued; cancelled when answered
    State state = State::queued;
    std::optional<pokedex::Pokemon> result;
    std::exception_ptr error;
  };
  struct Batch {
    pokedex::Language language;
    std::vector<std::shared_ptr<Lookup>> lookups;
  };

  static boost::asio::awaitable<std::optional<pokedex::Pokemon>> find_alone(std::shared_ptr<ConnectionPool> pool,
                                                                            int id, pokedex::Language language,
                                                                            pokedex::LookupObserver* observer);
  static boost::asio::awaitable<void> run_batch(std::shared_ptr<ConnectionPool> pool, std::shared_ptr<Batch> batch);
  const std::string& batch_sql(std::size_t capacity);
  void close(const Batch& batch);

  const MysqlOptions& options_;
  std::vector<std::shared_ptr<Batch>> open_;  // waiting for a connection, still taking lookups
  std::vector<std::string> batch_sql_;        // [i]: find_pokemon_batch for 2 << i ids
};

}  // namespace storage::mysql
