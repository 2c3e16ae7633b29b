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

}  // namespace
