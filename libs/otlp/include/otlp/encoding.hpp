#pragma once
// OTLP's protobuf encoding of spans (opentelemetry-proto, written by hand: no
// generated code, no protobuf runtime).
#include "trace/span_data.hpp"
#include "trace/span_exporter.hpp"

#include <span>
#include <string>

namespace otlp {

// The bytes of an opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest:
// one ResourceSpans with the resource's attributes, holding one ScopeSpans with
// the scope, holding every span in order. Fields at their proto3 default are
// left out, except attribute values (AnyValue is a oneof: 0, false and "" keep
// their type). A span's parent_span_id is written only when it is not all zero,
// its status message only with StatusCode::error, and its flags are the W3C
// trace flags (the "is remote" bits are not set: SpanData does not record them).
// A link's flags are its context's trace flags with the "is remote" bits set
// from the context.
std::string encode_export_trace_request(const trace::Resource& resource, const trace::InstrumentationScope& scope,
                                        std::span<const trace::SpanData> spans);

// The same, appended to `out`, so a caller can reuse one buffer across batches.
void append_export_trace_request(std::string& out, const trace::Resource& resource,
                                 const trace::InstrumentationScope& scope, std::span<const trace::SpanData> spans);
// The same for the records of an export batch, read in place.
void append_export_trace_request(std::string& out, const trace::Resource& resource,
                                 const trace::InstrumentationScope& scope, trace::SpanBatch spans);

}  // namespace otlp
