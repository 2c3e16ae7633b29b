#pragma once
// gzip (RFC 1952) for request bodies, one zlib stream reused across bodies.
#include <memory>
#include <string>
#include <string_view>

struct z_stream_s;

namespace otlp {

class GzipCompressor {
 public:
  // zlib's levels: 1 is the fastest, 9 the smallest output. Spans compress
  // well already at 1, for a fraction of the default level's (6) time.
  static constexpr int fastest_level = 1;
  static constexpr int smallest_level = 9;

  // Throws std::invalid_argument for a level outside 1 to 9,
  // std::runtime_error when zlib cannot be set up.
  explicit GzipCompressor(int level = fastest_level);
  ~GzipCompressor();
  GzipCompressor(const GzipCompressor&) = delete;
  GzipCompressor& operator=(const GzipCompressor&) = delete;

  // `in` compressed into `out`, replacing its content; false when zlib fails.
  bool compress(std::string_view in, std::string& out);

 private:
  std::unique_ptr<z_stream_s> stream_;
};

}  // namespace otlp
