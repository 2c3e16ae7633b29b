#include "gzip_compressor.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <stdexcept>
#include <string>

namespace {

// gzip's inverse, with zlib's own inflater.
std::string gunzip(const std::string& compressed) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  std::string out;
  char buffer[16384];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("not a complete gzip stream");
  return out;
}

std::string random_bytes(std::size_t size) {
  std::mt19937 random(3);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

TEST(OtlpGzip, RoundTrips) {
  otlp::GzipCompressor compressor;
  for (const std::string& body : {std::string(), std::string("x"), std::string(100000, 'a'), random_bytes(70000)}) {
    std::string compressed;
    ASSERT_TRUE(compressor.compress(body, compressed));
    ASSERT_GE(compressed.size(), 18u) << "a gzip header and trailer at least";
    EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
    EXPECT_EQ(gunzip(compressed), body);
  }
}

TEST(OtlpGzip, RepetitiveBodiesShrink) {
  otlp::GzipCompressor compressor;
  std::string compressed;
  ASSERT_TRUE(compressor.compress(std::string(100000, 'a'), compressed));
  EXPECT_LT(compressed.size(), 1000u);
}

TEST(OtlpGzip, EachBodyReplacesThePreviousOutput) {
  otlp::GzipCompressor compressor;
  std::string out;
  ASSERT_TRUE(compressor.compress(random_bytes(5000), out));
  ASSERT_TRUE(compressor.compress("second", out));
  EXPECT_EQ(gunzip(out), "second");
}

TEST(OtlpGzip, EveryLevelRoundTripsAndLevelsOutsideZlibsAreRefused) {
  const std::string body = random_bytes(3000) + std::string(50000, 'b');
  for (int level = otlp::GzipCompressor::fastest_level; level <= otlp::GzipCompressor::smallest_level; ++level) {
    otlp::GzipCompressor compressor(level);
    std::string compressed;
    ASSERT_TRUE(compressor.compress(body, compressed)) << level;
    EXPECT_EQ(gunzip(compressed), body) << level;
  }
  EXPECT_THROW(otlp::GzipCompressor(0), std::invalid_argument);
  EXPECT_THROW(otlp::GzipCompressor(10), std::invalid_argument);
  EXPECT_THROW(otlp::GzipCompressor(-1), std::invalid_argument);  // zlib's Z_DEFAULT_COMPRESSION: not explicit
}

// The level is what zlib is told: the smallest level compresses at least as
// well as the fastest on text that repeats at long distances.
TEST(OtlpGzip, TheLevelReachesZlib) {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "GET /pokemon/" + std::to_string(i % 97) + " db.query.text SELECT;";
  std::string fastest;
  std::string smallest;
  ASSERT_TRUE(otlp::GzipCompressor(otlp::GzipCompressor::fastest_level).compress(body, fastest));
  ASSERT_TRUE(otlp::GzipCompressor(otlp::GzipCompressor::smallest_level).compress(body, smallest));
  EXPECT_LT(smallest.size(), fastest.size());
  // The gzip header's XFL byte says which: 4 for the fastest, 2 for the smallest.
  EXPECT_EQ(static_cast<unsigned char>(fastest[8]), 4);
  EXPECT_EQ(static_cast<unsigned char>(smallest[8]), 2);
}

}  // namespace
