// The hand-written protobuf encoder, the OTLP request it builds, the exporter's
// environment variables and the exporter's failure paths that need no server.
#include "protobuf_writer.hpp"

#include <otlp/encoding.hpp>
#include <otlp/http_exporter.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using otlp::protobuf::WireType;
using otlp::protobuf::Writer;

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (const unsigned v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string varint(std::uint64_t value) {
  std::string out;
  Writer(out).varint(value);
  return out;
}

// ---- a minimal reader, to walk what the encoder wrote -----------------------

struct Field {
  std::uint32_t number = 0;
  WireType type = WireType::varint;
  std::uint64_t scalar = 0;  // varint, fixed32, fixed64
  std::string bytes;         // length-delimited
};

std::uint64_t read_varint(std::string_view& in) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) throw std::runtime_error("truncated varint");
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    value |= std::uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return value;
  }
  throw std::runtime_error("varint too long");
}

std::uint64_t read_fixed(std::string_view& in, std::size_t size) {
  if (in.size() < size) throw std::runtime_error("truncated fixed");
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value |= std::uint64_t{static_cast<std::uint8_t>(in[i])} << (8 * i);
  in.remove_prefix(size);
  return value;
}

std::vector<Field> parse(std::string_view in) {
  std::vector<Field> fields;
  while (!in.empty()) {
    const auto key = read_varint(in);
    Field field;
    field.number = static_cast<std::uint32_t>(key >> 3);
    field.type = static_cast<WireType>(key & 7);
    switch (field.type) {
      case WireType::varint: field.scalar = read_varint(in); break;
      case WireType::fixed64: field.scalar = read_fixed(in, 8); break;
      case WireType::fixed32: field.scalar = read_fixed(in, 4); break;
      case WireType::length_delimited: {
        const auto length = read_varint(in);
        if (length > in.size()) throw std::runtime_error("truncated length-delimited field");
        field.bytes = std::string(in.substr(0, length));
        in.remove_prefix(length);
        break;
      }
      default: throw std::runtime_error("unexpected wire type");
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

std::vector<Field> all(const std::vector<Field>& fields, std::uint32_t number) {
  std::vector<Field> matching;
  for (const auto& f : fields)
    if (f.number == number) matching.push_back(f);
  return matching;
}

std::optional<Field> one(const std::vector<Field>& fields, std::uint32_t number) {
  const auto matching = all(fields, number);
  if (matching.size() > 1) throw std::runtime_error("field repeated");
  if (matching.empty()) return std::nullopt;
  return matching.front();
}

// ---- the writer -------------------------------------------------------------

TEST(ProtobufWriter, VarintEdgeCases) {
  EXPECT_EQ(varint(0), bytes({0x00}));
  EXPECT_EQ(varint(1), bytes({0x01}));
  EXPECT_EQ(varint(127), bytes({0x7f}));
  EXPECT_EQ(varint(128), bytes({0x80, 0x01}));
  EXPECT_EQ(varint(300), bytes({0xac, 0x02}));
  EXPECT_EQ(varint(16383), bytes({0xff, 0x7f}));
  EXPECT_EQ(varint(16384), bytes({0x80, 0x80, 0x01}));
  EXPECT_EQ(varint(0xffffffffu), bytes({0xff, 0xff, 0xff, 0xff, 0x0f}));
  EXPECT_EQ(varint(std::uint64_t{1} << 63), bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
  EXPECT_EQ(varint(~std::uint64_t{0}), bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  for (const std::uint64_t v : {0ull, 127ull, 128ull, 16383ull, 16384ull, 0xffffffffull, ~0ull})
    EXPECT_EQ(otlp::protobuf::varint_size(v), varint(v).size()) << v;
}

TEST(ProtobufWriter, NegativeInt64TakesTenBytes) {
  std::string out;
  Writer(out).int64_field(3, -1);
  EXPECT_EQ(out, bytes({0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  out.clear();
  Writer(out).int64_field(3, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(out, bytes({0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
}

TEST(ProtobufWriter, TagsAndScalars) {
  std::string out;
  Writer writer(out);
  writer.uint64_field(1, 150);           // the protobuf documentation's example
  writer.fixed32_field(16, 0x01020304);  // a two-byte tag
  writer.fixed64_field(7, 0x0102030405060708);
  writer.bool_field(2, true);
  writer.double_field(4, 1.5);
  writer.string_field(2, "testing");
  writer.flush();
  EXPECT_EQ(out, bytes({0x08, 0x96, 0x01,                                      //
                        0x85, 0x01, 0x04, 0x03, 0x02, 0x01,                    //
                        0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  //
                        0x10, 0x01,                                            //
                        0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,  //
                        0x12, 0x07, 't',  'e',  's',  't',  'i',  'n',  'g'}));
}

TEST(ProtobufWriter, EmptyNestedMessage) {
  std::string out;
  Writer writer(out);
  writer.message(1, [] {});
  writer.flush();
  EXPECT_EQ(out, bytes({0x0a, 0x00}));
}

TEST(ProtobufWriter, NestedLengthsAcrossVarintBoundaries) {
  for (const std::size_t body : {1u, 125u, 126u, 127u, 128u, 16380u, 16381u, 16382u, 16383u, 16384u, 2100000u}) {
    std::string out = "prefix";
    Writer writer(out);
    writer.message(3, [&] { writer.string_field(1, std::string(body, 'x')); });
    writer.flush();
    std::string_view in(out);
    ASSERT_EQ(in.substr(0, 6), "prefix");
    in.remove_prefix(6);
    const auto fields = parse(in);
    ASSERT_EQ(fields.size(), 1u);
    EXPECT_EQ(fields[0].number, 3u);
    const auto inner = parse(fields[0].bytes);
    ASSERT_EQ(inner.size(), 1u);
    EXPECT_EQ(inner[0].bytes.size(), body);
    // Canonical: the length varint takes no more bytes than it needs.
    const std::size_t inner_size = 1 + otlp::protobuf::varint_size(body) + body;
    EXPECT_EQ(out.size(), 6 + 1 + otlp::protobuf::varint_size(inner_size) + inner_size) << body;
  }
}

TEST(ProtobufWriter, DeeplyNestedMessages) {
  std::string out;
  Writer writer(out);
  writer.message(1, [&] {
    writer.uint64_field(1, 1);
    writer.message(2, [&] {
      writer.message(3, [&] { writer.string_field(4, std::string(200, 'a')); });
      writer.uint64_field(5, 7);
    });
    writer.message(6, [] {});
  });
  writer.flush();
  const auto top = parse(out);
  ASSERT_EQ(top.size(), 1u);
  const auto level1 = parse(top[0].bytes);
  ASSERT_EQ(level1.size(), 3u);
  EXPECT_EQ(level1[0].scalar, 1u);
  EXPECT_EQ(level1[2].number, 6u);
  EXPECT_TRUE(level1[2].bytes.empty());
  const auto level2 = parse(level1[1].bytes);
  ASSERT_EQ(level2.size(), 2u);
  EXPECT_EQ(level2[1].scalar, 7u);
  const auto level3 = parse(level2[0].bytes);
  ASSERT_EQ(level3.size(), 1u);
  EXPECT_EQ(level3[0].bytes, std::string(200, 'a'));
}

// The room kept for a length is only a guess: too much or too little, the
// bytes are the same as with the default, and canonical.
TEST(ProtobufWriter, LengthGuessesDoNotChangeTheBytes) {
  for (const std::size_t body : {0u, 1u, 126u, 127u, 128u, 16381u, 16382u, 16383u, 16384u, 70000u}) {
    std::string reference;
    {
      Writer writer(reference);
      writer.message(2, [&] { writer.string_field(1, std::string(body, 'y')); });
    }
    for (const std::size_t guess : {0u, 1u, 127u, 128u, 16383u, 16384u, 2097152u, 0x7fffffffu}) {
      std::string out = "prefix";
      {
        Writer writer(out);
        writer.message(2, guess, [&] { writer.string_field(1, std::string(body, 'y')); });
        EXPECT_EQ(writer.size(), 6 + reference.size());
      }
      EXPECT_EQ(out, "prefix" + reference) << "body " << body << ", guess " << guess;
    }
  }
}

// Writing through a pointer into a string grown ahead: the string holds
// exactly the bytes written once the writer is flushed or gone, whatever it
// held or reserved before.
TEST(ProtobufWriter, StringHoldsExactlyWhatWasWritten) {
  std::string out;
  out.reserve(4096);
  {
    Writer writer(out);
    writer.uint64_field(1, 150);
    writer.flush();
    EXPECT_EQ(out, bytes({0x08, 0x96, 0x01}));
    writer.string_field(2, std::string(10000, 'z'));  // grows past the reserve
    EXPECT_EQ(writer.size(), 3u + 1 + 2 + 10000);
  }
  ASSERT_EQ(out.size(), 3u + 1 + 2 + 10000);
  EXPECT_EQ(out.substr(0, 6), bytes({0x08, 0x96, 0x01, 0x12, 0x90, 0x4e}));
  EXPECT_EQ(out.substr(6), std::string(10000, 'z'));
}

// ---- the OTLP request -------------------------------------------------------

trace::SpanData sample_span() {
  trace::SpanData span;
  for (std::uint8_t i = 0; i < 16; ++i) span.trace_id.bytes[i] = static_cast<std::uint8_t>(i + 1);
  for (std::uint8_t i = 0; i < 8; ++i) span.span_id.bytes[i] = static_cast<std::uint8_t>(0xa0 + i);
  span.trace_flags = 0x01;
  span.name = "GET /pokemon/{id}";
  span.kind = trace::SpanKind::server;
  span.start_unix_nano = 1'700'000'000'000'000'000;
  span.end_unix_nano = 1'700'000'000'250'000'000;
  span.attributes = {{"zero", std::int64_t{0}}, {"flag", false}, {"empty", std::string()}, {"ratio", 0.5}};
  span.status = trace::StatusCode::ok;
  span.status_message = "ignored unless error";
  return span;
}

TEST(OtlpEncoding, WritesASpanWithTheOpentelemetryProtoFieldNumbers) {
  const trace::Resource resource{{{"service.name", std::string("apimon")}}};
  const trace::InstrumentationScope scope{"apimon", "1.2.3"};
  const std::vector<trace::SpanData> records{sample_span()};
  const std::vector<const trace::SpanData*> spans{&records[0]};
  const auto request = otlp::encode_export_trace_request(resource, scope, records);

  const auto resource_spans = parse(one(parse(request), 1)->bytes);
  const auto resource_attributes = all(parse(one(resource_spans, 1)->bytes), 1);
  ASSERT_EQ(resource_attributes.size(), 1u);
  EXPECT_EQ(one(parse(resource_attributes[0].bytes), 1)->bytes, "service.name");

  const auto scope_spans = parse(one(resource_spans, 2)->bytes);
  const auto scope_fields = parse(one(scope_spans, 1)->bytes);
  EXPECT_EQ(one(scope_fields, 1)->bytes, "apimon");
  EXPECT_EQ(one(scope_fields, 2)->bytes, "1.2.3");

  const auto span = parse(one(scope_spans, 2)->bytes);
  EXPECT_EQ(one(span, 1)->bytes.size(), 16u);
  EXPECT_EQ(one(span, 1)->bytes[0], '\x01');
  EXPECT_EQ(one(span, 2)->bytes.size(), 8u);
  EXPECT_FALSE(one(span, 3)) << "no tracestate";
  EXPECT_FALSE(one(span, 4)) << "a root span has no parent_span_id";
  EXPECT_EQ(one(span, 5)->bytes, "GET /pokemon/{id}");
  EXPECT_EQ(one(span, 6)->scalar, 2u);
  EXPECT_EQ(one(span, 7)->type, WireType::fixed64);
  EXPECT_EQ(one(span, 7)->scalar, 1'700'000'000'000'000'000u);
  EXPECT_EQ(one(span, 8)->scalar, 1'700'000'000'250'000'000u);
  EXPECT_EQ(one(span, 16)->type, WireType::fixed32);
  EXPECT_EQ(one(span, 16)->scalar, 1u);
  EXPECT_FALSE(one(span, 10));
  EXPECT_FALSE(one(span, 12));

  // Values at their type's default keep their type: AnyValue is a oneof.
  const auto attributes = all(span, 9);
  ASSERT_EQ(attributes.size(), 4u);
  const auto value_of = [](const Field& key_value) { return parse(one(parse(key_value.bytes), 2)->bytes); };
  EXPECT_EQ(one(value_of(attributes[0]), 3)->scalar, 0u);
  EXPECT_EQ(one(value_of(attributes[1]), 2)->scalar, 0u);
  EXPECT_EQ(one(value_of(attributes[2]), 1)->bytes, "");
  EXPECT_EQ(std::bit_cast<double>(one(value_of(attributes[3]), 4)->scalar), 0.5);

  const auto status = parse(one(span, 15)->bytes);
  EXPECT_EQ(one(status, 3)->scalar, 1u);
  EXPECT_FALSE(one(status, 2)) << "a message only goes with an error";
}

TEST(OtlpEncoding, ChildSpanWithEventsAndAnError) {
  auto data = sample_span();
  data.parent_span_id.bytes = {1, 2, 3, 4, 5, 6, 7, 8};
  data.trace_state = "vendor=value";
  data.kind = trace::SpanKind::client;
  data.attributes = {{"count", std::int64_t{-3}}};
  data.events = {{"retry", 1'700'000'000'100'000'000, {{"attempt", std::int64_t{2}}}}};
  data.status = trace::StatusCode::error;
  data.status_message = "upstream timed out";
  data.dropped_attributes = 4;
  data.dropped_events = 1;
  const std::vector<trace::SpanData> spans{sample_span(), data};
  const auto request = otlp::encode_export_trace_request({}, {}, spans);

  const auto resource_spans = parse(one(parse(request), 1)->bytes);
  EXPECT_TRUE(one(resource_spans, 1)->bytes.empty());
  const auto scope_spans = parse(one(resource_spans, 2)->bytes);
  EXPECT_TRUE(one(scope_spans, 1)->bytes.empty());
  const auto span_fields = all(scope_spans, 2);
  ASSERT_EQ(span_fields.size(), 2u);
  const auto span = parse(span_fields[1].bytes);
  EXPECT_EQ(one(span, 3)->bytes, "vendor=value");
  EXPECT_EQ(one(span, 4)->bytes, bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(one(span, 6)->scalar, 3u);
  EXPECT_EQ(static_cast<std::int64_t>(one(parse(one(parse(one(span, 9)->bytes), 2)->bytes), 3)->scalar), -3);
  EXPECT_EQ(one(span, 10)->scalar, 4u);
  EXPECT_EQ(one(span, 12)->scalar, 1u);
  const auto event = parse(one(span, 11)->bytes);
  EXPECT_EQ(one(event, 1)->type, WireType::fixed64);
  EXPECT_EQ(one(event, 1)->scalar, 1'700'000'000'100'000'000u);
  EXPECT_EQ(one(event, 2)->bytes, "retry");
  EXPECT_EQ(one(parse(one(event, 3)->bytes), 1)->bytes, "attempt");
  const auto status = parse(one(span, 15)->bytes);
  EXPECT_EQ(one(status, 2)->bytes, "upstream timed out");
  EXPECT_EQ(one(status, 3)->scalar, 2u);
}

TEST(OtlpEncoding, LinksCarryTheirContextAttributesAndRemoteFlags) {
  auto data = sample_span();
  trace::SpanContext remote;
  remote.trace_id.bytes.fill(0x11);
  remote.span_id.bytes.fill(0x22);
  remote.trace_flags = 0x01;
  remote.trace_state = "vendor=value";
  remote.remote = true;
  trace::SpanContext local;
  local.trace_id.bytes.fill(0x33);
  local.span_id.bytes.fill(0x44);
  data.links = {{remote, {{"db.operation.batch.size", std::int64_t{5}}}}, {local, {}}};
  data.dropped_links = 7;
  const std::vector<trace::SpanData> spans{data};
  const auto request = otlp::encode_export_trace_request({}, {}, spans);

  const auto span = parse(one(parse(one(parse(one(parse(request), 1)->bytes), 2)->bytes), 2)->bytes);
  const auto links = all(span, 13);
  ASSERT_EQ(links.size(), 2u);
  const auto first = parse(links[0].bytes);
  EXPECT_EQ(one(first, 1)->bytes, std::string(16, '\x11'));
  EXPECT_EQ(one(first, 2)->bytes, std::string(8, '\x22'));
  EXPECT_EQ(one(first, 3)->bytes, "vendor=value");
  EXPECT_EQ(one(parse(one(first, 4)->bytes), 1)->bytes, "db.operation.batch.size");
  EXPECT_EQ(one(first, 6)->type, WireType::fixed32);
  EXPECT_EQ(one(first, 6)->scalar, 0x301u);  // sampled; has "is remote", and is
  const auto second = parse(links[1].bytes);
  EXPECT_FALSE(one(second, 3));
  EXPECT_FALSE(one(second, 4));
  EXPECT_EQ(one(second, 6)->scalar, 0x100u);
  EXPECT_EQ(one(span, 14)->scalar, 7u);
}

TEST(OtlpEncoding, AppendsToAReusedBuffer) {
  const std::vector<trace::SpanData> records{sample_span()};
  const std::vector<const trace::SpanData*> spans{&records[0]};
  const auto fresh = otlp::encode_export_trace_request({}, {"s", ""}, records);
  std::string buffer = "junk";
  buffer.clear();
  otlp::append_export_trace_request(buffer, {}, {"s", ""}, spans);
  EXPECT_EQ(buffer, fresh);
}

// The exporter keeps one buffer for every batch: a large batch, a small one
// and the large one again each come out as a fresh encoding does, whatever
// the buffer held and however much room it kept.
TEST(OtlpEncoding, ABufferReusedAcrossBatchesKeepsTheBytes) {
  std::vector<trace::SpanData> large;
  for (int i = 0; i < 300; ++i) {
    auto span = sample_span();
    span.span_id.bytes[7] = static_cast<std::uint8_t>(i);
    // Values on either side of the sizes where a length varint grows a byte.
    span.attributes.push_back({"db.query.text", std::string(static_cast<std::size_t>(100 + i), 'q')});
    span.attributes.push_back({"step", std::int64_t{i}});
    large.push_back(std::move(span));
  }
  const std::vector<trace::SpanData> small{sample_span()};
  const trace::Resource resource{{{"service.name", std::string("apimon")}}};
  const trace::InstrumentationScope scope{"apimon", "1.0"};
  const auto fresh_large = otlp::encode_export_trace_request(resource, scope, large);
  const auto fresh_small = otlp::encode_export_trace_request(resource, scope, small);
  ASSERT_GT(fresh_large.size(), 16384u);

  std::string buffer;
  const std::vector<const std::vector<trace::SpanData>*> batches{&large, &small, &large, &small};
  for (const auto* batch : batches) {
    buffer.clear();
    otlp::append_export_trace_request(buffer, resource, scope, *batch);
    EXPECT_EQ(buffer, batch == &large ? fresh_large : fresh_small);
  }
  const auto top = parse(fresh_large);
  ASSERT_EQ(top.size(), 1u);
  const auto resource_spans = parse(top[0].bytes);
  ASSERT_EQ(resource_spans.size(), 2u);
  const auto scope_spans = parse(resource_spans[1].bytes);
  EXPECT_EQ(scope_spans.size(), 1u + large.size());  // the scope, then every span
}

// A KeyValue's body as the generic writer makes it: nested messages with
// their lengths patched in afterwards. The encoder's one-pass attribute path
// must produce exactly these bytes.
std::string reference_key_value(std::string_view key, const trace::AttributeValue& value) {
  std::string out;
  {
    Writer writer(out);
    writer.string_field(1, key);
    writer.message(2, [&] {
      if (const auto* text = std::get_if<std::string>(&value))
        writer.string_field(1, *text);
      else if (const auto* flag = std::get_if<bool>(&value))
        writer.bool_field(2, *flag);
      else if (const auto* integer = std::get_if<std::int64_t>(&value))
        writer.int64_field(3, *integer);
      else
        writer.double_field(4, std::get<double>(value));
    });
  }
  return out;
}

TEST(OtlpEncoding, AttributesOfEverySizeMatchTheGenericWriterByteForByte) {
  trace::Attributes attributes;
  const auto add = [&](std::string_view key, trace::AttributeValue value) {
    attributes.emplace_back(trace::Attribute{trace::AttributeKey::intern(key), std::move(value)});
  };
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string text(length, 'v');
    for (std::size_t i = 0; i < length; ++i) text[i] = static_cast<char>('a' + i % 26);
    add(std::string(length + 1, 'k'), text);  // keys and values of every short length
  }
  for (const std::size_t length : {115u, 116u, 117u, 127u, 128u, 16'370u, 16'383u, 16'384u, 70'000u})
    add("text." + std::to_string(length), std::string(length, 'v'));
  add(std::string(127, 'k'), std::string("long key"));
  add(std::string(200, 'k'), std::string("longer key"));
  for (const std::int64_t n : {std::int64_t{0}, std::int64_t{127}, std::int64_t{128}, std::int64_t{-1},
                               std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()})
    add("int." + std::to_string(n), n);
  add("double", -2.5);
  add("true", true);
  add("false", false);

  // The same attributes on a span (the record's compact form), an event and the resource (owning values).
  trace::SpanData span = sample_span();
  span.attributes.clear();
  for (const auto& attribute : attributes) span.attributes.push_back(attribute);
  span.events = {{"event", 1, attributes}};
  const trace::Resource resource{attributes};
  const auto request = otlp::encode_export_trace_request(resource, {"s", ""}, std::vector<trace::SpanData>{span});

  const auto resource_spans = parse(one(parse(request), 1)->bytes);
  const auto scope_spans = parse(one(resource_spans, 2)->bytes);
  const auto span_fields = parse(one(scope_spans, 2)->bytes);
  const std::vector<std::vector<Field>> lists{all(parse(one(resource_spans, 1)->bytes), 1), all(span_fields, 9),
                                              all(parse(one(span_fields, 11)->bytes), 3)};
  for (const auto& list : lists) {
    ASSERT_EQ(list.size(), attributes.size());
    for (std::size_t i = 0; i < list.size(); ++i)
      EXPECT_EQ(list[i].bytes, reference_key_value(attributes[i].key, attributes[i].value)) << attributes[i].key.view();
  }
}

// A span referring to a shared set is encoded as if it had set those
// attributes itself, first: the first time (encoded and kept), the next times
// (copied), and for a set past those the encoder keeps (encoded every time).
TEST(OtlpEncoding, SharedAttributesComeOutAsTheSpansOwnWould) {
  const trace::Attributes shared_list = {{"db.system.name", std::string("mariadb")},
                                         {"db.query.text", std::string(300, 'q')},
                                         {"server.port", std::int64_t{3306}},
                                         {"ratio", 0.25},
                                         {"cached", true}};
  std::vector<const trace::SharedAttributes*> sets{&trace::SharedAttributes::intern(shared_list)};
  // Distinct sets until one lies past the encoder's cache (256 sets).
  for (std::int64_t n = 0; sets.back()->id() < 300; ++n) {
    trace::Attributes numbered = shared_list;
    numbered.push_back({"set.number", n});
    sets.push_back(&trace::SharedAttributes::intern(numbered));
  }
  for (const trace::SharedAttributes* set : {sets.front(), sets.back()}) {
    trace::SpanData with_set = sample_span();
    with_set.shared_attributes = set;
    trace::SpanData own = sample_span();
    own.attributes.clear();
    for (const trace::AttributeView attribute : set->attributes())
      std::visit([&](const auto& value) { own.attributes.set(own.attributes.append(attribute.key), value); },
                 attribute.value);
    for (const trace::AttributeView attribute : with_set.attributes)
      std::visit([&](const auto& value) { own.attributes.set(own.attributes.append(attribute.key), value); },
                 attribute.value);
    const auto expected = otlp::encode_export_trace_request({}, {"s", ""}, std::vector<trace::SpanData>{own});
    const std::vector<trace::SpanData> batch{with_set, with_set};
    const auto twice = otlp::encode_export_trace_request({}, {"s", ""}, batch);
    EXPECT_EQ(otlp::encode_export_trace_request({}, {"s", ""}, std::vector<trace::SpanData>{with_set}), expected)
        << set->id();
    const auto scope_spans = parse(one(parse(one(parse(twice), 1)->bytes), 2)->bytes);
    const auto spans = all(scope_spans, 2);
    ASSERT_EQ(spans.size(), 2u);
    const auto expected_scope_spans = parse(one(parse(one(parse(expected), 1)->bytes), 2)->bytes);
    EXPECT_EQ(spans[0].bytes, one(expected_scope_spans, 2)->bytes);
    EXPECT_EQ(spans[1].bytes, spans[0].bytes);
    EXPECT_EQ(all(parse(spans[1].bytes), 9).size(), set->size() + 4);
  }
}

TEST(OtlpEncoding, SpansShorterAndLongerThanTheGuessedLengthKeepCanonicalLengths) {
  // A span without attributes (under 128 bytes) and one over 16 KiB: their
  // lengths take one and three bytes where the encoder kept two.
  auto tiny = sample_span();
  tiny.attributes.clear();
  tiny.name = "t";
  tiny.status = trace::StatusCode::unset;
  auto huge = sample_span();
  huge.attributes.push_back({"db.query.text", std::string(20'000, 'q')});
  const std::vector<trace::SpanData> spans{tiny, huge, tiny};
  const auto request = otlp::encode_export_trace_request({}, {}, spans);
  const auto scope_spans = parse(one(parse(one(parse(request), 1)->bytes), 2)->bytes);
  const auto encoded = all(scope_spans, 2);
  ASSERT_EQ(encoded.size(), 3u);
  EXPECT_LT(encoded[0].bytes.size(), 128u);
  EXPECT_GT(encoded[1].bytes.size(), 16'384u);
  EXPECT_EQ(one(parse(encoded[0].bytes), 5)->bytes, "t");
  EXPECT_EQ(encoded[0].bytes, encoded[2].bytes);
  // Canonical: the request is exactly as long as its fields, with no padded varints.
  std::string expected_scope_spans;
  {
    Writer writer(expected_scope_spans);
    writer.message(1, [] {});
    for (const auto& span : encoded) writer.bytes_field(2, span.bytes);
  }
  std::string expected;
  {
    Writer writer(expected);
    writer.message(1, [&] {
      writer.message(1, [] {});
      writer.bytes_field(2, expected_scope_spans);
    });
  }
  EXPECT_EQ(request, expected);
}

// ---- environment variables ----------------------------------------------------

class Environment {
 public:
  Environment(std::initializer_list<std::pair<const std::string, std::string>> values) : values_(values) {}
  std::function<const char*(const char*)> getenv() const {
    return [this](const char* name) -> const char* {
      const auto found = values_.find(name);
      return found == values_.end() ? nullptr : found->second.c_str();
    };
  }

 private:
  std::map<std::string, std::string> values_;
};

otlp::OtlpHttpExporterOptions from(const Environment& environment) {
  return otlp::otlp_options_from_environment(environment.getenv());
}

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(OtlpEnvironment, Defaults) {
  const auto options = from({});
  EXPECT_EQ(options.endpoint, "http://localhost:4318/v1/traces");
  EXPECT_TRUE(options.headers.empty());
  EXPECT_EQ(options.timeout, 10s);
  EXPECT_FALSE(options.gzip);  // the specification's default: no compression
  EXPECT_EQ(options.gzip_level, 1);
  EXPECT_EQ(options.max_attempts, 5);
  EXPECT_EQ(options.initial_backoff, 1s);
  EXPECT_EQ(options.max_backoff, 5s);
}

TEST(OtlpEnvironment, GenericEndpointGetsTheSignalPath) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}).endpoint,
            "http://collector:4318/v1/traces");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}}).endpoint,
            "http://collector:4318/v1/traces");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel.example/base/"}}).endpoint,
            "http://otel.example/base/v1/traces");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1]:4318"}}).endpoint, "http://[::1]:4318/v1/traces");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", " HTTP://collector "}}).endpoint, "HTTP://collector/v1/traces");
}

TEST(OtlpEnvironment, TheSignalPathGoesBeforeTheQuery) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/otlp?tenant=a"}}).endpoint,
            "http://collector:4318/otlp/v1/traces?tenant=a");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector?tenant=a/b"}}).endpoint,
            "http://collector/v1/traces?tenant=a/b");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector/#part"}}).endpoint,
            "http://collector/v1/traces#part");
}

TEST(OtlpEnvironment, TracesEndpointIsUsedAsIs) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom"}}).endpoint,
            "http://collector:4318/custom");
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector/"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "x"}})
                .endpoint,
            "http://collector/")
      << "the generic variable is not even read";
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"}}).endpoint,
            "http://c/v1/traces")
      << "empty counts as unset";
}

TEST(OtlpEnvironment, Headers) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,X-Tenant=acme"}}).headers,
            (Headers{{"api-key", "secret"}, {"X-Tenant", "acme"}}));
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_HEADERS", " a = 1 , b=two%20words ,c=100%25,d=x+y,e=k=v"}}).headers,
            (Headers{{"a", "1"}, {"b", "two words"}, {"c", "100%"}, {"d", "x+y"}, {"e", "k=v"}}));
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_HEADERS", "empty=,,trailing=1,"}}).headers,
            (Headers{{"empty", ""}, {"trailing", "1"}}));
}

TEST(OtlpEnvironment, MalformedHeaderEntriesAreLeftOut) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_HEADERS",
                   "novalue,=nokey,bad key=1,bad(key)=1,x=%zz,y=%4,z=%0d%0aInjected: 1,good=yes"}})
                .headers,
            (Headers{{"good", "yes"}}));
}

TEST(OtlpEnvironment, TracesHeadersReplaceTheGenericOnes) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"}, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "c=3"}}).headers,
            (Headers{{"c", "3"}}));
}

TEST(OtlpEnvironment, Timeout) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}}).timeout, 2500ms);
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", " 750 "}}).timeout,
            750ms);
}

TEST(OtlpEnvironment, Compression) {
  EXPECT_TRUE(from({{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}}).gzip);
  EXPECT_FALSE(from({{"OTEL_EXPORTER_OTLP_COMPRESSION", "none"}}).gzip);
  EXPECT_FALSE(
      from({{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}, {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"}}).gzip);
  EXPECT_TRUE(
      from({{"OTEL_EXPORTER_OTLP_COMPRESSION", "none"}, {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP"}}).gzip);
}

void expect_invalid(const Environment& environment, const std::string& variable) {
  try {
    from(environment);
    ADD_FAILURE() << "expected std::invalid_argument naming " << variable;
  } catch (const std::invalid_argument& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(variable + ":", 0), 0u) << message;
  }
}

TEST(OtlpEnvironment, InvalidValuesNameTheirVariable) {
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}}, "OTEL_EXPORTER_OTLP_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"}}, "OTEL_EXPORTER_OTLP_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "0"}}, "OTEL_EXPORTER_OTLP_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "-5"}}, "OTEL_EXPORTER_OTLP_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999999999"}}, "OTEL_EXPORTER_OTLP_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TIMEOUT", "1000"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1.5"}},
                 "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"}}, "OTEL_EXPORTER_OTLP_COMPRESSION");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "deflate"}}, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION");
  expect_invalid({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}}, "OTEL_EXPORTER_OTLP_ENDPOINT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"}}, "OTEL_EXPORTER_OTLP_ENDPOINT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/v1/traces"}},
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"}}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:99999/v1/traces"}},
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  expect_invalid({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1:4318"}}, "OTEL_EXPORTER_OTLP_ENDPOINT");
}

// No TLS in the build: an https endpoint is refused, saying that only http is supported.
TEST(OtlpEnvironment, HttpsEndpointsAreRejected) {
  for (const char* variable : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}) {
    for (const char* endpoint : {"https://otel.example/base/", "HTTPS://collector:4318/v1/traces"}) {
      try {
        from({{variable, endpoint}});
        ADD_FAILURE() << "expected std::invalid_argument for " << variable << "=" << endpoint;
      } catch (const std::invalid_argument& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.rfind(std::string(variable) + ":", 0), 0u) << message;
        EXPECT_NE(message.find("only http://"), std::string::npos) << message;
      }
    }
  }
}

TEST(OtlpEnvironment, AnUnusedGenericVariableIsNotValidated) {
  EXPECT_EQ(from({{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100"}}).timeout,
            100ms);
}

// ---- the exporter without a server ----------------------------------------------

// A loopback port nobody listens on: bound, then released.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("cannot bind a loopback socket");
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(OtlpHttpExporter, RejectsInvalidOptions) {
  otlp::OtlpHttpExporterOptions options;
  options.endpoint = "localhost:4318";
  EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument);
  options.endpoint = "https://localhost:4318/v1/traces";
  EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument);
  options.endpoint = "http://localhost:0/v1/traces";
  EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument);
  options = {};
  options.max_attempts = 0;
  EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument);
  options = {};
  options.timeout = 0ms;
  EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument);
  for (const int level : {0, 10, -1}) {
    options = {};
    options.gzip = true;
    options.gzip_level = level;
    EXPECT_THROW(otlp::OtlpHttpExporter(options, {}, {}), std::invalid_argument) << level;
  }
}

TEST(OtlpHttpExporter, AnEmptyBatchSucceedsWithoutARequest) {
  otlp::OtlpHttpExporterOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
  otlp::OtlpHttpExporter exporter(options, {}, {});
  EXPECT_EQ(exporter.export_spans({}), trace::ExportResult::success);
  EXPECT_EQ(exporter.stats().failed_exports, 0u);
}

TEST(OtlpHttpExporter, ConnectionFailuresAreRetriedUpToMaxAttempts) {
  otlp::OtlpHttpExporterOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
  options.max_attempts = 3;
  options.initial_backoff = 10ms;
  options.max_backoff = 20ms;
  otlp::OtlpHttpExporter exporter(options, {}, {});
  const std::vector<trace::SpanData> records{sample_span()};
  const std::vector<const trace::SpanData*> spans{&records[0]};
  EXPECT_EQ(exporter.export_spans(spans), trace::ExportResult::failure);
  EXPECT_EQ(exporter.stats().retries, 2u);
  EXPECT_EQ(exporter.stats().failed_exports, 1u);
  EXPECT_EQ(exporter.stats().exported_spans, 0u);
}

TEST(OtlpHttpExporter, ShutdownInterruptsABackoffWaitAndRefusesLaterExports) {
  otlp::OtlpHttpExporterOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
  options.timeout = 600s;
  options.initial_backoff = 120s;
  options.max_backoff = 120s;
  otlp::OtlpHttpExporter exporter(options, {}, {});
  const std::vector<trace::SpanData> records{sample_span()};
  const std::vector<const trace::SpanData*> spans{&records[0]};

  // The first attempt fails at once; then it waits 60-120 s. Both bounds
  // below are far under that wait and far over what any machine needs.
  const auto started = std::chrono::steady_clock::now();
  auto result = std::async(std::launch::async, [&] { return exporter.export_spans(spans); });
  std::this_thread::sleep_for(200ms);  // most likely in the wait by now; if not, it stops before it
  exporter.shutdown();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(result.get(), trace::ExportResult::failure);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_EQ(exporter.stats().retries, 0u);

  const auto again = std::chrono::steady_clock::now();
  EXPECT_EQ(exporter.export_spans(spans), trace::ExportResult::failure);
  EXPECT_LT(std::chrono::steady_clock::now() - again, 30s);
  EXPECT_EQ(exporter.stats().retries, 0u) << "nothing is tried after shutdown";
  EXPECT_EQ(exporter.stats().failed_exports, 2u);
}

TEST(OtlpHttpExporter, TheOverallTimeoutBoundsRetries) {
  otlp::OtlpHttpExporterOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/traces";
  options.timeout = 300ms;
  options.max_attempts = 1000;
  options.initial_backoff = 100ms;
  options.max_backoff = 100ms;
  otlp::OtlpHttpExporter exporter(options, {}, {});
  const std::vector<trace::SpanData> records{sample_span()};
  const std::vector<const trace::SpanData*> spans{&records[0]};
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(exporter.export_spans(spans), trace::ExportResult::failure);
  // Each retry waits at least 50 ms, so 300 ms leave room for at most six; a
  // busy machine makes fewer. All 1000 attempts would take over 50 s.
  EXPECT_LE(exporter.stats().retries, 6u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

}  // namespace
