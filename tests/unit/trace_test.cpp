#include <trace/batch_span_processor.hpp>
#include <trace/resource.hpp>
#include <trace/sampler.hpp>
#include <trace/trace_context.hpp>
#include <trace/tracer.hpp>

#include "capturing_span_processor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using trace::SpanContext;

auto environment(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    const auto found = values.find(name);
    return found == values.end() ? nullptr : found->second.c_str();
  };
}

// W3C Trace Context examples and edge cases.
TEST(Traceparent, ParsesTheSpecificationsExample) {
  const auto context = trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(context);
  EXPECT_EQ(context->trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(context->span_id.hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(context->sampled());
  EXPECT_TRUE(context->remote);
  EXPECT_EQ(trace::format_traceparent(*context), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(Traceparent, RejectsInvalidHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",           // no flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // v00 must be exact
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   // short trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",  // not hex
       })
    EXPECT_FALSE(trace::parse_traceparent(bad)) << bad;
}

TEST(Traceparent, ReadsALaterVersionAsVersionZero) {
  const auto context = trace::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-future-field");
  ASSERT_TRUE(context);
  EXPECT_TRUE(context->sampled());
  EXPECT_EQ(trace::format_traceparent(*context).substr(0, 3), "00-");
}

TEST(Traceparent, UnsampledFlag) {
  const auto context = trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(context);
  EXPECT_FALSE(context->sampled());
}

TEST(Tracestate, KeepsValidListsAndDropsInvalidOnes) {
  EXPECT_EQ(trace::validate_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(trace::validate_tracestate("tenant@vendor=x"), "tenant@vendor=x");
  EXPECT_EQ(trace::validate_tracestate("Rojo=1"), "");   // upper-case key
  EXPECT_EQ(trace::validate_tracestate("rojo"), "");     // no value
  EXPECT_EQ(trace::validate_tracestate("a=1,a=2"), "");  // duplicate key
  EXPECT_EQ(trace::validate_tracestate("a=1=2"), "");    // '=' in value
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_EQ(trace::validate_tracestate(many), "");
}

TEST(Tracestate, KeepsNothingFromAListOfEmptyMembers) {
  EXPECT_EQ(trace::validate_tracestate(" ,,"), "");
  EXPECT_EQ(trace::validate_tracestate(",\t, "), "");
  EXPECT_EQ(trace::validate_tracestate(" , rojo=1 ,, "), ", rojo=1 ,,");  // empty members beside a real one are kept
}

TEST(RandomIds, AreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = trace::random_trace_id();
    EXPECT_TRUE(id.valid());
    seen.insert(id.hex());
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Samplers, RatioKeepsAboutThatShareAndIsDeterministic) {
  const auto sampler = trace::trace_id_ratio_sampler(0.25);
  int kept = 0;
  for (int i = 0; i < 20000; ++i) kept += sampler->should_sample(nullptr, trace::random_trace_id());
  EXPECT_NEAR(kept / 20000.0, 0.25, 0.02);
  const auto id = trace::random_trace_id();
  EXPECT_EQ(sampler->should_sample(nullptr, id), sampler->should_sample(nullptr, id));
  EXPECT_FALSE(trace::trace_id_ratio_sampler(0.0)->should_sample(nullptr, id));
  EXPECT_TRUE(trace::trace_id_ratio_sampler(1.0)->should_sample(nullptr, id));
}

TEST(Samplers, ParentBasedFollowsTheParent) {
  const auto sampler = trace::parent_based_sampler(trace::always_off_sampler());
  SpanContext parent{trace::random_trace_id(), trace::random_span_id(), 0x01, "", true};
  EXPECT_TRUE(sampler->should_sample(&parent, parent.trace_id));
  parent.trace_flags = 0;
  EXPECT_FALSE(trace::parent_based_sampler(trace::always_on_sampler())->should_sample(&parent, parent.trace_id));
  EXPECT_FALSE(sampler->should_sample(nullptr, parent.trace_id));  // root: always_off
}

TEST(Samplers, FromTheEnvironment) {
  EXPECT_EQ(trace::sampler_from_environment(environment({}))->description(), "ParentBased{root:AlwaysOnSampler}");
  EXPECT_EQ(trace::sampler_from_environment(environment({{"OTEL_TRACES_SAMPLER", "always_off"}}))->description(),
            "AlwaysOffSampler");
  EXPECT_EQ(trace::sampler_from_environment(
                environment({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.01"}}))
                ->description(),
            "ParentBased{root:TraceIdRatioBased{0.010000}}");
  EXPECT_THROW(trace::sampler_from_environment(environment({{"OTEL_TRACES_SAMPLER", "sometimes"}})),
               std::invalid_argument);
  EXPECT_THROW(trace::sampler_from_environment(
                   environment({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}})),
               std::invalid_argument);
}

TEST(Resource, ComesFromTheEnvironment) {
  const auto resource = trace::resource_from_environment(
      "apimon", "1.2.3",
      environment({{"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=study, team=a%20b,broken,service.name=x"},
                   {"OTEL_SERVICE_NAME", "apimon-test"}}));
  EXPECT_EQ(trace::resource_string(resource, "service.name"), "apimon-test");
  EXPECT_EQ(trace::resource_string(resource, "service.version"), "1.2.3");
  EXPECT_EQ(trace::resource_string(resource, "deployment.environment"), "study");
  EXPECT_EQ(trace::resource_string(resource, "team"), "a b");
  EXPECT_EQ(trace::resource_string(resource, "telemetry.sdk.language"), "cpp");
  EXPECT_EQ(trace::resource_string(resource, "service.instance.id").size(), 36u);
  EXPECT_FALSE(trace::resource_string(resource, "host.name").empty());
}

// Collects what it is given; can be made to block to fill the queue.
class RecordingExporter final : public trace::SpanExporter {
 public:
  explicit RecordingExporter(std::shared_future<void> gate = {}) : gate_(std::move(gate)) {}
  trace::ExportResult export_spans(trace::SpanBatch spans) override {
    if (gate_.valid()) gate_.wait();
    std::lock_guard lock(mutex);
    for (const auto* span : spans) names.push_back(span->name);
    ++batches;
    return trace::ExportResult::success;
  }
  std::mutex mutex;
  std::vector<std::string> names;
  int batches = 0;

 private:
  std::shared_future<void> gate_;
};

TEST(Tracer, UnsampledSpansRecordNothingButPropagate) {
  trace::Tracer tracer({}, {"test", "1"}, trace::always_off_sampler(), nullptr);
  auto span = tracer.start_span("GET /x", trace::SpanKind::server);
  EXPECT_FALSE(span.recording());
  EXPECT_TRUE(span.context().valid());
  EXPECT_FALSE(span.context().sampled());
  span.set_attribute("a", std::int64_t{1}).set_status(trace::StatusCode::error, "x");  // no effect, no crash
}

TEST(Tracer, ChildrenShareTheTraceAndNameTheirParent) {
  auto exporter = std::make_unique<RecordingExporter>();
  auto* recorded = exporter.get();
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(),
                       std::make_unique<trace::BatchSpanProcessor>(std::move(exporter),
                                                                   trace::BatchSpanProcessorOptions{}));
  auto parent = tracer.start_span("parent", trace::SpanKind::server);
  auto child = tracer.start_span("child", trace::SpanKind::client, &parent.context());
  EXPECT_EQ(child.context().trace_id, parent.context().trace_id);
  EXPECT_NE(child.context().span_id.hex(), parent.context().span_id.hex());
  child.set_status(trace::StatusCode::error, "boom").set_status(trace::StatusCode::unset);
  child.end();
  parent.set_status(trace::StatusCode::ok).set_status(trace::StatusCode::error, "ignored");
  parent.end();
  ASSERT_TRUE(tracer.force_flush(5s));
  std::lock_guard lock(recorded->mutex);
  EXPECT_EQ(recorded->names, (std::vector<std::string>{"child", "parent"}));
}

TEST(Tracer, RemoteParentContinuesItsTrace) {
  trace::Tracer tracer({}, {"test", "1"}, trace::parent_based_sampler(trace::always_off_sampler()), nullptr);
  auto remote = trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto span = tracer.start_span("GET /x", trace::SpanKind::server, &*remote);
  EXPECT_TRUE(span.recording());
  EXPECT_EQ(span.context().trace_id.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(Tracer, ChildrenCarryTheParentsTracestate) {
  trace::Tracer tracer({}, {"test", "1"}, trace::parent_based_sampler(trace::always_off_sampler()), nullptr);
  auto remote = trace::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  remote->trace_state = "vendor=value";
  auto server = tracer.start_span("GET /x", trace::SpanKind::server, &*remote);
  auto child = tracer.start_span("query", trace::SpanKind::client, &server.context());
  EXPECT_FALSE(child.recording());
  EXPECT_EQ(server.context().trace_state, "vendor=value");
  EXPECT_EQ(child.context().trace_state, "vendor=value");
  auto root = tracer.start_span("GET /y", trace::SpanKind::server);
  EXPECT_EQ(root.context().trace_state, "");
}

TEST(Tracer, CountsStartedAndSampledSpansFromManyThreads) {
  trace::Tracer tracer({}, {"test", "1"}, trace::parent_based_sampler(trace::always_on_sampler()), nullptr);
  const SpanContext unsampled{trace::random_trace_id(), trace::random_span_id(), 0x00, "", true};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        tracer.start_span("root", trace::SpanKind::server);                 // sampled
        tracer.start_span("child", trace::SpanKind::internal, &unsampled);  // not sampled
        tracer.start_span("child", trace::SpanKind::internal, &unsampled);  // not sampled
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(tracer.stats().started(), 12000u);
  EXPECT_EQ(tracer.stats().sampled(), 4000u);
}

// Span times: steady readings placed on the wall clock through one anchor per trace.
TEST(SpanTimes, DurationsAreTheSteadyReadingsTheCallerGave) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  const auto before = trace::unix_nanos_now();
  const auto started = trace::SteadyClock::now();
  auto span = tracer.start_span("x", trace::SpanKind::server, nullptr, started);
  const auto after = trace::unix_nanos_now();
  span.end(started + 1234567ns);
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].end_unix_nano - finished[0].start_unix_nano, 1234567u);
  // On the wall clock: the anchor is read as the span starts.
  EXPECT_GE(finished[0].start_unix_nano, before);
  EXPECT_LE(finished[0].start_unix_nano, after);
}

TEST(SpanTimes, ChildrenOfALocalSpanShareItsAnchorSoTheyNestExactly) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  const auto started = trace::SteadyClock::now();
  auto parent = tracer.start_span("parent", trace::SpanKind::server, nullptr, started);
  auto child = tracer.start_span("child", trace::SpanKind::internal, parent, started + 100ns);
  auto grandchild = tracer.start_span("grandchild", trace::SpanKind::client, child, started + 250ns);
  EXPECT_EQ(child.context().trace_id, parent.context().trace_id);
  EXPECT_EQ(child.unix_nanos(started), parent.unix_nanos(started));
  grandchild.end(started + 300ns);
  child.end(started + 400ns);
  parent.end(started + 500ns);
  ASSERT_EQ(finished.size(), 3u);
  const auto& [g, c, p] = std::tie(finished[0], finished[1], finished[2]);
  EXPECT_EQ(c.parent_span_id, p.span_id);
  EXPECT_EQ(g.parent_span_id, c.span_id);
  EXPECT_EQ(c.start_unix_nano - p.start_unix_nano, 100u);
  EXPECT_EQ(g.start_unix_nano - p.start_unix_nano, 250u);
  EXPECT_EQ(g.end_unix_nano - p.start_unix_nano, 300u);
  EXPECT_EQ(c.end_unix_nano - p.start_unix_nano, 400u);
  EXPECT_EQ(p.end_unix_nano - p.start_unix_nano, 500u);
}

TEST(SpanTimes, EventsFallWithinTheirSpanAndAnEarlyEndIsTheStart) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  auto span = tracer.start_span("x", trace::SpanKind::internal);
  span.add_event("e");
  span.end();
  const auto started = trace::SteadyClock::now();
  auto backwards = tracer.start_span("y", trace::SpanKind::internal, nullptr, started);
  backwards.end(started - 1s);
  ASSERT_EQ(finished.size(), 2u);
  ASSERT_EQ(finished[0].events.size(), 1u);
  EXPECT_GE(finished[0].events[0].time_unix_nano, finished[0].start_unix_nano);
  EXPECT_LE(finished[0].events[0].time_unix_nano, finished[0].end_unix_nano);
  EXPECT_EQ(finished[1].end_unix_nano, finished[1].start_unix_nano);
}

TEST(SpanTimes, ASpanThatRecordsNothingHasNoWallClockTime) {
  trace::Tracer tracer({}, {"test", "1"}, trace::always_off_sampler(), nullptr);
  const auto span = tracer.start_span("x", trace::SpanKind::internal);
  EXPECT_EQ(span.unix_nanos(trace::SteadyClock::now()), 0u);
  EXPECT_EQ(trace::Span{}.unix_nanos(trace::SteadyClock::now()), 0u);
}

TEST(Span, LimitsAttributesAndEvents) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  auto span = tracer.start_span("x", trace::SpanKind::internal);
  for (std::size_t i = 0; i < trace::Span::max_attributes + 5; ++i)
    span.set_attribute(trace::AttributeKey::intern("k" + std::to_string(i)), std::int64_t(i));
  span.set_attribute("k0", std::string("replaced"));  // replacing never counts as a drop
  for (std::size_t i = 0; i < trace::Span::max_events + 3; ++i) span.add_event("e");
  span.end();
  span.end();  // idempotent
  ASSERT_EQ(finished.size(), 1u);
  const auto& data = finished[0];
  EXPECT_EQ(data.attributes.size(), trace::Span::max_attributes);
  EXPECT_EQ(data.dropped_attributes, 5u);
  EXPECT_EQ(std::get<std::string_view>(data.attributes[0].value), "replaced");
  EXPECT_EQ(data.events.size(), trace::Span::max_events);
  EXPECT_EQ(data.dropped_events, 3u);
  EXPECT_GE(data.end_unix_nano, data.start_unix_nano);
  EXPECT_EQ(data.kind, trace::SpanKind::internal);
}

// Every attribute of a finished span, shared ones first, as key=value text.
std::vector<std::string> attribute_list(const trace::SpanData& data) {
  std::vector<std::string> listed;
  data.for_each_attribute([&](std::string_view key, const auto& value) {
    std::ostringstream text;
    text << key << '=' << value;
    listed.push_back(text.str());
  });
  return listed;
}

const trace::SharedAttributes& database_attributes() {
  return trace::SharedAttributes::intern({{"db.system.name", std::string("sqlite")},
                                          {"db.namespace", std::string("pokedex")},
                                          {"server.port", std::int64_t{3306}}});
}

TEST(SharedAttributes, AnEqualSetIsInternedOnceAndADifferentOneApart) {
  const auto& set = database_attributes();
  EXPECT_EQ(&database_attributes(), &set);
  const auto& other = trace::SharedAttributes::intern({{"db.system.name", std::string("sqlite")},
                                                       {"db.namespace", std::string("pokedex")},
                                                       {"server.port", std::int64_t{3307}}});
  const auto& text_not_number = trace::SharedAttributes::intern({{"db.system.name", std::string("sqlite")},
                                                                 {"db.namespace", std::string("pokedex")},
                                                                 {"server.port", std::string("3306")}});
  EXPECT_NE(&other, &set);
  EXPECT_NE(&text_not_number, &set);
  EXPECT_NE(other.id(), set.id());
  EXPECT_NE(text_not_number.id(), other.id());
  // A key given twice keeps its last value, as set_attribute would, and the
  // set is the same as the one given that value once.
  const auto& repeated = trace::SharedAttributes::intern({{"k", std::int64_t{1}}, {"k", std::int64_t{2}}});
  EXPECT_EQ(repeated.size(), 1u);
  EXPECT_EQ(&trace::SharedAttributes::intern({{"k", std::int64_t{1}}, {"k", std::int64_t{2}}}), &repeated);
  EXPECT_EQ(&trace::SharedAttributes::intern({{"k", std::int64_t{2}}}), &repeated);
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.contains("db.namespace"));
  EXPECT_FALSE(set.contains("db.query.text"));
}

TEST(SharedAttributes, ASpanRefersToTheSetAndListsItBeforeItsOwn) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  {
    auto span = tracer.start_span("SELECT", trace::SpanKind::client);
    span.set_attribute("db.response.rows", 1).set_attributes(database_attributes());
    span.set_attribute("db.operation.name", "SELECT");
  }
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].shared_attributes, &database_attributes());
  EXPECT_EQ(finished[0].attributes.size(), 2u);
  EXPECT_EQ(finished[0].attribute_count(), 5u);
  EXPECT_EQ(attribute_list(finished[0]),
            (std::vector<std::string>{"db.system.name=sqlite", "db.namespace=pokedex", "server.port=3306",
                                      "db.response.rows=1", "db.operation.name=SELECT"}));
  trace::SpanData reused = finished[0];
  reused.clear_for_reuse();
  EXPECT_EQ(reused.shared_attributes, nullptr);
  EXPECT_EQ(reused.attribute_count(), 0u);
  trace::Span nothing;
  nothing.set_attributes(database_attributes());  // records nothing, and does not fail
}

TEST(SharedAttributes, ASpansOwnValueOfASharedKeyTakesItsPlace) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  {
    auto after = tracer.start_span("set after", trace::SpanKind::client);
    after.set_attributes(database_attributes()).set_attribute("db.query.text", "SELECT 1");
    after.set_attribute("db.namespace", "other");
  }
  {
    auto before = tracer.start_span("set before", trace::SpanKind::client);
    before.set_attribute("db.namespace", "mine").set_attributes(database_attributes());
  }
  {
    auto two_sets = tracer.start_span("two sets", trace::SpanKind::client);
    two_sets.set_attributes(database_attributes())
        .set_attributes(trace::SharedAttributes::intern(
            {{"server.port", std::int64_t{5432}}, {"server.address", std::string("db")}}));
  }
  ASSERT_EQ(finished.size(), 3u);
  // Copied into the span's own attributes, each key once, in place.
  EXPECT_EQ(finished[0].shared_attributes, nullptr);
  EXPECT_EQ(attribute_list(finished[0]), (std::vector<std::string>{"db.system.name=sqlite", "db.namespace=other",
                                                                   "server.port=3306", "db.query.text=SELECT 1"}));
  // A set given later sets its keys, as set_attribute would.
  EXPECT_EQ(finished[1].shared_attributes, nullptr);
  EXPECT_EQ(attribute_list(finished[1]),
            (std::vector<std::string>{"db.namespace=pokedex", "db.system.name=sqlite", "server.port=3306"}));
  // A second set on a span that has one, the same way.
  EXPECT_EQ(finished[2].shared_attributes, nullptr);
  EXPECT_EQ(attribute_list(finished[2]), (std::vector<std::string>{"db.system.name=sqlite", "db.namespace=pokedex",
                                                                   "server.port=5432", "server.address=db"}));
}

TEST(SharedAttributes, CountTowardsTheAttributeLimit) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  trace::Attributes many;
  for (std::size_t i = 0; i < trace::Span::max_attributes - 1; ++i)
    many.push_back({trace::AttributeKey::intern("shared" + std::to_string(i)), std::int64_t(i)});
  const auto& almost_full = trace::SharedAttributes::intern(many);
  many.push_back({"one.more", true});
  many.push_back({"and.another", true});
  const auto& too_many = trace::SharedAttributes::intern(many);
  {
    auto span = tracer.start_span("full", trace::SpanKind::internal);
    span.set_attributes(almost_full).set_attribute("own", 1).set_attribute("dropped", 2);
  }
  {
    auto span = tracer.start_span("over", trace::SpanKind::internal);
    span.set_attributes(too_many);
  }
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0].shared_attributes, &almost_full);
  EXPECT_EQ(finished[0].attribute_count(), trace::Span::max_attributes);
  EXPECT_EQ(finished[0].dropped_attributes, 1u);
  // A set larger than the limit is set one by one, the rest counted.
  EXPECT_EQ(finished[1].shared_attributes, nullptr);
  EXPECT_EQ(finished[1].attribute_count(), trace::Span::max_attributes);
  EXPECT_EQ(finished[1].dropped_attributes, 1u);
}

TEST(SpanAttributes, ReplacingAValueKeepsItsPlaceWhateverItsTypeAndLength) {
  trace::SpanAttributes attributes;
  const auto set = [&](const trace::AttributeKey& key, const auto& value) {
    auto slot = attributes.find(key);
    if (slot == attributes.size()) slot = attributes.append(key);
    attributes.set(slot, value);
  };
  set("a", std::string_view("first"));
  set("b", std::int64_t{7});
  set("c", std::string_view("third"));
  set("a", std::string_view("1st"));                  // shorter: in place
  set("c", std::string_view("the third, longer"));    // the last text: grows in place
  set("a", std::string_view("the first, now long"));  // neither: appended
  set("b", std::string_view("seven"));                // a number becomes text
  set("c", 2.5);                                      // text becomes a number
  // A key made at run time with a literal's content is the same key.
  set(trace::AttributeKey::intern(std::string("a")), true);
  set(trace::AttributeKey::intern(std::string("d")), std::string_view("fourth"));
  ASSERT_EQ(attributes.size(), 4u);
  EXPECT_EQ(attributes[0].key, "a");
  EXPECT_EQ(std::get<bool>(attributes[0].value), true);
  EXPECT_EQ(std::get<std::string_view>(attributes[1].value), "seven");
  EXPECT_EQ(std::get<double>(attributes[2].value), 2.5);
  EXPECT_EQ(std::get<std::string_view>(attributes[3].value), "fourth");

  std::vector<std::string> seen;
  attributes.for_each([&](std::string_view key, const auto& value) {
    using Value = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<Value, std::string_view>)
      seen.push_back(std::string(key) + "=" + std::string(value));
    else
      seen.push_back(std::string(key) + "=" + std::to_string(value));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", "b=seven", "c=2.500000", "d=fourth"}));
}

TEST(SpanAttributes, KeysSharingASummaryBitAreStillToldApart) {
  // Same length and last character: the same summary bit, different keys.
  trace::SpanAttributes attributes{{"ab", std::int64_t{1}}, {"bb", std::int64_t{2}}, {"cb", std::int64_t{3}}};
  EXPECT_EQ(attributes.find("bb"), 1u);
  EXPECT_EQ(attributes.find("db"), attributes.size());
  EXPECT_EQ(attributes.find("zz"), attributes.size());
  attributes.clear();
  EXPECT_EQ(attributes.find("ab"), attributes.size()) << "a cleared list has no keys";
}

TEST(SpanAttributes, AClearedListReusesItsTextWhateverTypesItsSlotsHeld) {
  trace::SpanAttributes attributes;
  attributes.push_back({"query", std::string(300, 'q')});
  attributes.push_back({"rows", std::int64_t{1}});
  const std::size_t capacity = attributes.text_capacity();
  ASSERT_GE(capacity, 300u);
  for (int round = 0; round < 100; ++round) {
    attributes.clear();
    // The first slot now holds a number, the second a string: nothing is freed or allocated.
    attributes.push_back({"rows", std::int64_t{round}});
    attributes.push_back({"query", std::string(static_cast<std::size_t>(round) + 200, 'q')});
    ASSERT_EQ(attributes.text_capacity(), capacity) << round;
  }
  EXPECT_EQ(std::get<std::string_view>(attributes[1].value).size(), 299u);
}

TEST(Span, KeepsLinksUpToTheLimitAndIgnoresInvalidContexts) {
  std::vector<trace::SpanData> finished;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::make_unique<CapturingProcessor>(finished));
  auto other = tracer.start_span("other", trace::SpanKind::client);
  auto span = tracer.start_span("x", trace::SpanKind::client);
  span.add_link(other.context(), {{"db.operation.batch.size", std::int64_t{4}}});
  span.add_link(trace::SpanContext{});  // invalid: nothing to point at
  for (std::size_t i = 1; i < trace::Span::max_links + 2; ++i) span.add_link(other.context());
  span.end();
  ASSERT_EQ(finished.size(), 1u);
  const auto& data = finished[0];
  ASSERT_EQ(data.links.size(), trace::Span::max_links);
  EXPECT_EQ(data.dropped_links, 2u);
  EXPECT_TRUE(data.links[0].context.trace_id == other.context().trace_id);
  EXPECT_TRUE(data.links[0].context.span_id == other.context().span_id);
  ASSERT_EQ(data.links[0].attributes.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(data.links[0].attributes[0].value), 4);

  trace::Tracer unsampled({}, {"test", "1"}, trace::always_off_sampler(),
                          std::make_unique<CapturingProcessor>(finished));
  auto quiet = unsampled.start_span("y", trace::SpanKind::client);
  quiet.add_link(other.context());  // records nothing, like every setter of an unsampled span
  quiet.end();
  EXPECT_EQ(finished.size(), 1u);
}

// Keeps a copy of every exported span, the address of its record and the
// capacity of its record's attribute text.
class CopyingExporter final : public trace::SpanExporter {
 public:
  trace::ExportResult export_spans(trace::SpanBatch spans) override {
    std::lock_guard lock(mutex);
    for (const auto* span : spans) {
      copies.push_back(*span);
      records.push_back(span);
      text_capacities.push_back(span->attributes.text_capacity());
    }
    return trace::ExportResult::success;
  }
  std::mutex mutex;
  std::vector<trace::SpanData> copies;
  std::vector<const trace::SpanData*> records;
  std::vector<std::size_t> text_capacities;
};

trace::BatchSpanProcessorOptions reuse_options(std::size_t max_free_spans) {
  trace::BatchSpanProcessorOptions options;
  options.max_queue_size = 64;
  options.max_export_batch_size = 64;
  options.schedule_delay = 1h;  // exports only when flushed
  options.max_free_spans = max_free_spans;
  options.thread_cache_spans = 4;
  return options;
}

TEST(SpanRecordReuse, AReusedRecordKeepsNothingOfItsLastSpanButItsCapacity) {
  auto exporter = std::make_unique<CopyingExporter>();
  auto& exported = *exporter;
  auto processor = std::make_unique<trace::BatchSpanProcessor>(std::move(exporter), reuse_options(8));
  const auto& stats = processor->stats();
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::move(processor));
  const std::string long_text(100, 'q');
  {
    auto other = tracer.start_span("other", trace::SpanKind::internal);
    other.set_attribute("db.query.text", long_text);
    auto first = tracer.start_span("first", trace::SpanKind::client);
    first.set_attribute("db.query.text", long_text)
        .set_attribute("attempt", std::int64_t{1})
        .add_event("retry", {{"reason", std::string("busy")}})
        .add_link(other.context(), {{"weight", 0.5}})
        .set_status(trace::StatusCode::error, "failed");
  }
  ASSERT_TRUE(tracer.force_flush(30s));
  EXPECT_EQ(stats.free_spans.load(), 2u);
  // This span's hand-off fills the thread's cache from the free list.
  tracer.start_span("refills", trace::SpanKind::internal).end();
  EXPECT_EQ(stats.free_spans.load(), 0u);
  {
    auto reused = tracer.start_span("second", trace::SpanKind::internal);
    reused.set_attribute("db.query.text", std::string_view(long_text).substr(0, 50));
  }
  ASSERT_TRUE(tracer.force_flush(30s));

  ASSERT_EQ(exported.copies.size(), 4u);
  const trace::SpanData& first = exported.copies[0];  // it ends before "other"
  ASSERT_EQ(first.name, "first");
  EXPECT_EQ(first.attributes.size(), 2u);
  EXPECT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.links.size(), 1u);
  const trace::SpanData& second = exported.copies[3];
  ASSERT_EQ(second.name, "second");
  // One of the first batch's records, with nothing of its span left but the new attribute.
  EXPECT_TRUE(exported.records[3] == exported.records[0] || exported.records[3] == exported.records[1]);
  EXPECT_EQ(second.kind, trace::SpanKind::internal);
  ASSERT_EQ(second.attributes.size(), 1u);
  EXPECT_EQ(second.attributes[0].key, "db.query.text");
  EXPECT_EQ(std::get<std::string_view>(second.attributes[0].value), long_text.substr(0, 50));
  EXPECT_TRUE(second.events.empty());
  EXPECT_TRUE(second.links.empty());
  EXPECT_EQ(second.status, trace::StatusCode::unset);
  EXPECT_TRUE(second.status_message.empty());
  EXPECT_EQ(second.dropped_attributes + second.dropped_events + second.dropped_links, 0u);
  EXPECT_TRUE(second.parent_span_id == trace::SpanId{});
  EXPECT_GT(second.start_unix_nano, 0u);
  EXPECT_GT(second.end_unix_nano, 0u);
  // Its own identity, not the one of the span the record last held.
  const trace::SpanData& reused_from = exported.records[3] == exported.records[0] ? first : exported.copies[1];
  EXPECT_FALSE(second.trace_id == reused_from.trace_id);
  EXPECT_FALSE(second.span_id == reused_from.span_id);
  EXPECT_FALSE(second.span_id == trace::SpanId{});
  // Both records of the first batch held the long text: whichever came back kept the room for it.
  EXPECT_GE(exported.text_capacities[3], long_text.size());
}

TEST(SpanRecordReuse, TheFreeListIsBounded) {
  for (const std::size_t bound : {std::size_t{0}, std::size_t{3}}) {
    auto processor = std::make_unique<trace::BatchSpanProcessor>(std::make_unique<CopyingExporter>(),
                                                                 reuse_options(bound));
    const auto& stats = processor->stats();
    trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(), std::move(processor));
    for (int i = 0; i < 10; ++i) tracer.start_span("s", trace::SpanKind::internal).end();
    ASSERT_TRUE(tracer.force_flush(30s));
    EXPECT_EQ(stats.free_spans.load(), bound);
    EXPECT_EQ(stats.exported.load(), 10u);
  }
}

TEST(SpanRecordReuse, SpansEndedOnManyThreadsKeepTheirOwnAttributes) {
  auto exporter = std::make_unique<CopyingExporter>();
  auto& exported = *exporter;
  trace::BatchSpanProcessorOptions options;
  options.max_queue_size = 8192;
  options.max_export_batch_size = 16;  // many exports, records going round while threads work
  options.schedule_delay = 1ms;
  options.max_free_spans = 32;
  options.thread_cache_spans = 4;
  trace::Tracer tracer({}, {"test", "1"}, trace::always_on_sampler(),
                       std::make_unique<trace::BatchSpanProcessor>(std::move(exporter), options));
  constexpr int threads_count = 4;
  constexpr int spans_per_thread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_count; ++t)
    threads.emplace_back([&tracer, t] {
      for (int i = 0; i < spans_per_thread; ++i) {
        auto span = tracer.start_span("t" + std::to_string(t) + "-" + std::to_string(i), trace::SpanKind::internal);
        span.set_attribute("thread", std::int64_t{t}).set_attribute("index", std::int64_t{i});
        if (i % 2 == 0) span.set_attribute("even", std::string(20 + static_cast<std::size_t>(i % 7), 'e'));
        if (i % 3 == 0) span.add_event("third").set_status(trace::StatusCode::error, "third");
      }
    });
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(tracer.force_flush(60s));
  std::lock_guard lock(exported.mutex);
  ASSERT_EQ(exported.copies.size(), static_cast<std::size_t>(threads_count * spans_per_thread));
  std::set<std::string> names;
  for (const auto& span : exported.copies) {
    const auto t = std::get<std::int64_t>(span.attributes[0].value);
    const auto i = std::get<std::int64_t>(span.attributes[1].value);
    EXPECT_EQ(span.name, "t" + std::to_string(t) + "-" + std::to_string(i));
    EXPECT_EQ(span.attributes[0].key, "thread") << span.name;
    EXPECT_EQ(span.attributes[1].key, "index") << span.name;
    ASSERT_EQ(span.attributes.size(), i % 2 == 0 ? 3u : 2u) << span.name;
    if (i % 2 == 0) {
      // Text another span left in a reused record would show here.
      EXPECT_EQ(span.attributes[2].key, "even") << span.name;
      EXPECT_EQ(std::get<std::string_view>(span.attributes[2].value),
                std::string(20 + static_cast<std::size_t>(i % 7), 'e'))
          << span.name;
    }
    ASSERT_EQ(span.events.size(), i % 3 == 0 ? 1u : 0u) << span.name;
    if (i % 3 == 0) {
      EXPECT_EQ(span.events[0].name, "third") << span.name;
    }
    EXPECT_EQ(span.status, i % 3 == 0 ? trace::StatusCode::error : trace::StatusCode::unset) << span.name;
    EXPECT_EQ(span.status_message, i % 3 == 0 ? "third" : "") << span.name;
    EXPECT_TRUE(span.links.empty()) << span.name;
    names.insert(span.name);
  }
  EXPECT_EQ(names.size(), exported.copies.size());
}

TEST(SpanRecordReuse, OptionsFromTheEnvironment) {
  const auto defaults = trace::batch_options_from_environment(environment({}));
  EXPECT_EQ(defaults.max_free_spans, 512u);
  EXPECT_EQ(defaults.thread_cache_spans, 32u);
  auto options = trace::batch_options_from_environment(
      environment({{"TRACE_BSP_MAX_FREE_SPANS", "0"}, {"TRACE_BSP_THREAD_CACHE_SPANS", "7"}}));
  EXPECT_EQ(options.max_free_spans, 0u);
  EXPECT_EQ(options.thread_cache_spans, 7u);
  for (const char* bad : {"-1", "x", "1k"})
    EXPECT_THROW(trace::batch_options_from_environment(environment({{"TRACE_BSP_MAX_FREE_SPANS", bad}})),
                 std::invalid_argument)
        << bad;
  EXPECT_THROW(trace::batch_options_from_environment(environment({{"TRACE_BSP_THREAD_CACHE_SPANS", "0"}})),
               std::invalid_argument);
}

TEST(BatchSpanProcessor, DropsAndCountsWhenTheQueueIsFull) {
  std::promise<void> gate;
  auto exporter = std::make_unique<RecordingExporter>(gate.get_future().share());
  auto* recorded = exporter.get();
  trace::BatchSpanProcessor processor(std::move(exporter), {.max_queue_size = 4,
                                                            .schedule_delay = 10ms,
                                                            .export_timeout = 5s,
                                                            .max_export_batch_size = 2});
  const auto span = [](const char* name) {
    auto data = std::make_unique<trace::SpanData>();
    data->name = name;
    return data;
  };
  processor.on_end(span("a"));
  processor.on_end(span("b"));  // a full batch: the worker takes it and blocks on the gate
  const auto give_up = std::chrono::steady_clock::now() + 30s;  // a bound on the wait, not a timing
  while (processor.stats().queue_length.load() != 0 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  if (processor.stats().queue_length.load() != 0) {
    gate.set_value();  // lets the processor stop
    FAIL() << "the worker never took the first batch";
  }
  for (const char* name : {"c", "d", "e", "f", "g", "h"}) processor.on_end(span(name));
  EXPECT_EQ(processor.stats().dropped.load(), 2u);  // g, h: the queue holds four
  gate.set_value();
  EXPECT_TRUE(processor.shutdown(5s));
  std::lock_guard lock(recorded->mutex);
  EXPECT_EQ(recorded->names.size(), 6u);
  EXPECT_EQ(processor.stats().exported.load(), 6u);
}

TEST(BatchSpanProcessor, ShutdownFlushesEverythingLongBeforeTheScheduleDelay) {
  auto exporter = std::make_unique<RecordingExporter>();
  auto* recorded = exporter.get();
  trace::BatchSpanProcessor processor(std::move(exporter), {.max_queue_size = 2048,
                                                            .schedule_delay = 600s,
                                                            .export_timeout = 5s,
                                                            .max_export_batch_size = 100});
  for (int i = 0; i < 250; ++i) {
    auto data = std::make_unique<trace::SpanData>();
    data->name = "s" + std::to_string(i);
    processor.on_end(std::move(data));
  }
  // Waiting out the ten-minute schedule delay would take far longer than a
  // minute, which no busy machine needs for this.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(processor.shutdown(60s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  std::lock_guard lock(recorded->mutex);
  EXPECT_EQ(recorded->names.size(), 250u);
  EXPECT_EQ(recorded->batches, 3);  // in batches of at most 100
  auto late = std::make_unique<trace::SpanData>();
  processor.on_end(std::move(late));
  EXPECT_EQ(processor.stats().dropped.load(), 1u);  // nothing is accepted after shutdown
}

TEST(BatchSpanProcessor, OptionsFromTheEnvironment) {
  const auto defaults = trace::batch_options_from_environment(environment({}));
  EXPECT_EQ(defaults.max_queue_size, 2048u);
  EXPECT_EQ(defaults.schedule_delay, 5000ms);
  EXPECT_EQ(defaults.export_timeout, 30000ms);
  EXPECT_EQ(defaults.max_export_batch_size, 512u);
  const auto set = trace::batch_options_from_environment(environment({{"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                                                                      {"OTEL_BSP_SCHEDULE_DELAY", "200"},
                                                                      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"}}));
  EXPECT_EQ(set.max_queue_size, 100u);
  EXPECT_EQ(set.schedule_delay, 200ms);
  EXPECT_EQ(set.max_export_batch_size, 10u);
  EXPECT_THROW(trace::batch_options_from_environment(environment({{"OTEL_BSP_MAX_QUEUE_SIZE", "-1"}})),
               std::invalid_argument);
  EXPECT_THROW(trace::batch_options_from_environment(
                   environment({{"OTEL_BSP_MAX_QUEUE_SIZE", "10"}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"}})),
               std::invalid_argument);
}

}  // namespace

namespace {

class FailingExporter final : public trace::SpanExporter {
 public:
  trace::ExportResult export_spans(trace::SpanBatch) override { return trace::ExportResult::failure; }
};

TEST(BatchSpanProcessor, CountsTheSpansOfFailedExports) {
  trace::BatchSpanProcessor processor(std::make_unique<FailingExporter>(), {.max_queue_size = 64,
                                                                            .schedule_delay = 10ms,
                                                                            .export_timeout = 5s,
                                                                            .max_export_batch_size = 4});
  for (int i = 0; i < 10; ++i) processor.on_end(std::make_unique<trace::SpanData>());
  EXPECT_TRUE(processor.force_flush(5s));
  EXPECT_EQ(processor.stats().failed_spans.load(), 10u);
  EXPECT_GE(processor.stats().export_failures.load(), 3u);  // in batches of at most 4
  EXPECT_EQ(processor.stats().exported.load(), 0u);
}

}  // namespace
