#pragma once
// gzip (RFC 1952) for request bodies, one zlib stream reused across bodies.
#include <memory>
#include <string>
#include <string_view>

struct z_stream_s;

namespace otlp {

class GzipCompressor {
 public:
  // Throws std::runtime_error when zlib cannot be set up.
  GzipCompressor();
  ~GzipCompressor();
  GzipCompressor(const GzipCompressor&) = delete;
  GzipCompressor& operator=(const GzipCompressor&) = delete;

  // `in` compressed into `out`, replacing its content; false when zlib fails.
  bool compress(std::string_view in, std::string& out);

 private:
  std::unique_ptr<z_stream_s> stream_;
};

}  // namespace otlp
