// The JSON lines the services log: spdlog's records, access log lines and
// records with fields, through the line writer, whole and in the fields and
// formats the log's readers expect.
#include <logging/logging.hpp>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = ::memfd_create("logging_test", 0);
    ASSERT_GE(fd_, 0);
    logging::configure_json_stdout("apimon", "info", {.fd = fd_, .flush_interval = std::chrono::hours(1)});
  }
  void TearDown() override {
    logging::stop_output(60s);
    ::close(fd_);
  }

  // Every line written so far, each parsed as JSON.
  std::vector<boost::json::object> lines() {
    EXPECT_TRUE(logging::stop_output(60s));
    std::string text;
    std::array<char, 65536> chunk;
    for (off_t offset = 0;;) {
      const auto got = ::pread(fd_, chunk.data(), chunk.size(), offset);
      if (got <= 0) break;
      text.append(chunk.data(), static_cast<std::size_t>(got));
      offset += got;
    }
    std::vector<boost::json::object> parsed;
    std::size_t start = 0;
    while (start < text.size()) {
      const auto end = text.find('\n', start);
      EXPECT_NE(end, std::string::npos);
      if (end == std::string::npos) break;
      parsed.push_back(boost::json::parse(std::string_view(text).substr(start, end - start)).as_object());
      start = end + 1;
    }
    return parsed;
  }

  int fd_ = -1;
};

bool is_utc_millisecond_time(const boost::json::value& time) {
  static const std::regex format(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  return std::regex_match(std::string(time.as_string()), format);
}

TEST_F(LoggingTest, SpdlogRecordsAreJsonLinesWithTheirTrace) {
  spdlog::info("listening on {}", "port \"5000\"\n");
  logging::log_traced(spdlog::level::warn, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "storage {}",
                      "unavailable");
  spdlog::debug("below the level: not written");
  const auto logged = lines();
  ASSERT_EQ(logged.size(), 2U);
  EXPECT_TRUE(is_utc_millisecond_time(logged[0].at("time")));
  EXPECT_EQ(logged[0].at("level"), "info");
  EXPECT_EQ(logged[0].at("service"), "apimon");
  EXPECT_EQ(logged[0].at("message"), "listening on port \"5000\"\n");
  EXPECT_FALSE(logged[0].contains("trace_id"));
  EXPECT_EQ(logged[1].at("level"), "warning");
  EXPECT_EQ(logged[1].at("message"), "storage unavailable");
  EXPECT_EQ(logged[1].at("service"), "apimon");
  EXPECT_TRUE(is_utc_millisecond_time(logged[1].at("time")));
  EXPECT_EQ(logged[1].at("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(logged[1].at("span_id"), "00f067aa0ba902b7");
}

TEST_F(LoggingTest, AccessLinesCarryTheRequestAndItsTrace) {
  const std::array<std::uint8_t, 16> trace_id{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                              0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
  const std::array<std::uint8_t, 8> span_id{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
  logging::access_log({.method = "GET",
                       .route = "/pokemon/{id}",
                       .target = "/pokemon/25",
                       .status = 200,
                       .duration_seconds = 0.0012346,
                       .response_bytes = 187,
                       .trace_id = trace_id,
                       .span_id = span_id});
  logging::access_log({.method = "GET", .route = "unmatched", .target = "/a\"b", .status = 404});
  const auto logged = lines();
  ASSERT_EQ(logged.size(), 2U);
  const auto& traced = logged[0];
  EXPECT_TRUE(is_utc_millisecond_time(traced.at("time")));
  EXPECT_EQ(traced.at("level"), "info");
  EXPECT_EQ(traced.at("message"), "request");
  EXPECT_EQ(traced.at("http.request.method"), "GET");
  EXPECT_EQ(traced.at("http.route"), "/pokemon/{id}");
  EXPECT_EQ(traced.at("url.path"), "/pokemon/25");
  EXPECT_EQ(traced.at("http.response.status_code"), 200);
  EXPECT_DOUBLE_EQ(traced.at("duration_ms").as_double(), 1.235);
  EXPECT_EQ(traced.at("response_bytes"), 187);
  EXPECT_EQ(traced.at("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(traced.at("span_id"), "00f067aa0ba902b7");
  EXPECT_EQ(logged[1].at("url.path"), "/a\"b");
  EXPECT_EQ(logged[1].at("http.route"), "unmatched");
  EXPECT_EQ(logged[1].at("http.response.status_code"), 404);
  EXPECT_DOUBLE_EQ(logged[1].at("duration_ms").as_double(), 0.0);
  EXPECT_FALSE(logged[1].contains("trace_id"));
  EXPECT_FALSE(logged[1].contains("span_id"));
}

TEST_F(LoggingTest, RecordsWithFields) {
  logging::log_fields(spdlog::level::info, "summary", R"("sent":10,"latency_ms":{"p99":1.5})");
  const auto logged = lines();
  ASSERT_EQ(logged.size(), 1U);
  EXPECT_EQ(logged[0].at("message"), "summary");
  EXPECT_EQ(logged[0].at("sent"), 10);
  EXPECT_DOUBLE_EQ(logged[0].at("latency_ms").at("p99").as_double(), 1.5);
}

TEST_F(LoggingTest, LinesFromManyThreadsAreAllWrittenWhole) {
  constexpr int threads = 4;
  constexpr int per_thread = 2000;  // well within each thread's buffer
  std::vector<std::thread> loggers;
  for (int t = 0; t < threads; ++t)
    loggers.emplace_back([t] {
      for (int i = 0; i < per_thread; ++i) spdlog::info("thread {} line {}", t, i);
    });
  for (auto& thread : loggers) thread.join();
  const auto logged = lines();
  EXPECT_EQ(logged.size(), std::size_t{threads} * per_thread);
  // Every line once, and each thread's in the order it logged them.
  std::vector<int> next(threads, 0);
  for (const auto& line : logged) {
    int thread = -1;
    int index = -1;
    const std::string message(line.at("message").as_string());
    ASSERT_EQ(std::sscanf(message.c_str(), "thread %d line %d", &thread, &index), 2) << message;
    ASSERT_TRUE(thread >= 0 && thread < threads) << message;
    ASSERT_EQ(index, next[static_cast<std::size_t>(thread)]) << message;
    ++next[static_cast<std::size_t>(thread)];
  }
  EXPECT_EQ(next, std::vector<int>(threads, per_thread));
  EXPECT_EQ(logging::dropped_records(), 0U);
}

}  // namespace
