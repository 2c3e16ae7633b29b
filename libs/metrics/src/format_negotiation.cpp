#include "metrics/exposition.hpp"
#include "text/text.hpp"

#include <charconv>
#include <optional>

namespace metrics {
namespace {

// Splits off the text before `separator`, consuming it and the separator.
std::string_view next_token(std::string_view& text, char separator) {
  const auto end = text.find(separator);
  const auto token = text.substr(0, end);
  text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  return token;
}

struct MediaRange {
  std::string_view type;  // "text/plain", "text/*", "*/*"
  std::string_view version;
  double q = 1.0;
};

// nullopt for a range whose q-value is malformed: it cannot be ranked, so it is ignored.
std::optional<MediaRange> parse_media_range(std::string_view text) {
  MediaRange range;
  range.type = text::trim(next_token(text, ';'));
  while (!text.empty()) {
    const auto parameter = next_token(text, ';');
    const auto eq = parameter.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = text::trim(parameter.substr(0, eq));
    auto value = text::trim(parameter.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (text::iequals(name, "q")) {
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), range.q);
      if (error != std::errc{} || end != value.data() + value.size() || !(range.q >= 0.0 && range.q <= 1.0))
        return std::nullopt;
    } else if (text::iequals(name, "version")) {
      range.version = value;
    }
  }
  return range;
}

struct Offer {
  ExpositionFormat format;
  int specificity;  // 2 for type/subtype, 1 for type/*, 0 for */*
};

std::optional<Offer> offer_for(const MediaRange& range) {
  if (text::iequals(range.type, "application/openmetrics-text")) {
    // 1.0.0 is what Prometheus asks for first; 0.0.1 is its draft, which the
    // same parser reads.
    if (range.version.empty() || range.version == "1.0.0" || range.version == "0.0.1")
      return Offer{ExpositionFormat::openmetrics_1_0_0, 2};
    return std::nullopt;
  }
  if (text::iequals(range.type, "text/plain")) {
    if (range.version.empty() || range.version == "0.0.4") return Offer{ExpositionFormat::prometheus_text_0_0_4, 2};
    return std::nullopt;
  }
  if (text::iequals(range.type, "text/*")) return Offer{ExpositionFormat::prometheus_text_0_0_4, 1};
  if (range.type == "*/*") return Offer{ExpositionFormat::prometheus_text_0_0_4, 0};
  return std::nullopt;
}

}  // namespace

ExpositionFormat negotiate_format(std::string_view accept_header) {
  std::optional<Offer> best;
  double best_q = 0.0;
  while (!accept_header.empty()) {
    const auto range = parse_media_range(next_token(accept_header, ','));
    if (!range || range->q <= 0.0) continue;  // q=0 means "not acceptable"
    const auto offer = offer_for(*range);
    if (!offer) continue;
    // Equal q-values: the more specific range wins, then the one listed first.
    if (!best || range->q > best_q || (range->q == best_q && offer->specificity > best->specificity)) {
      best = offer;
      best_q = range->q;
    }
  }
  return best ? best->format : ExpositionFormat::prometheus_text_0_0_4;
}

}  // namespace metrics
