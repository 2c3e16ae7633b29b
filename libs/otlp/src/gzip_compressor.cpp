#include "gzip_compressor.hpp"

#include <zlib.h>

#include <stdexcept>
#include <string>

namespace otlp {

GzipCompressor::GzipCompressor(int level) : stream_(std::make_unique<z_stream_s>()) {
  if (level < fastest_level || level > smallest_level)
    throw std::invalid_argument("gzip level must be 1 to 9, not " + std::to_string(level));
  // 15 + 16: the largest window, with a gzip rather than a zlib wrapper.
  if (deflateInit2(stream_.get(), level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("cannot initialise zlib");
}

GzipCompressor::~GzipCompressor() { deflateEnd(stream_.get()); }

bool GzipCompressor::compress(std::string_view in, std::string& out) {
  z_stream& stream = *stream_;
  if (deflateReset(&stream) != Z_OK) return false;
  out.resize(deflateBound(&stream, static_cast<uLong>(in.size())));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) return false;
  out.resize(stream.total_out);
  return true;
}

}  // namespace otlp
