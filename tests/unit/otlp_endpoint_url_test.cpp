#include "endpoint_url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace {

otlp::EndpointUrl parsed(std::string_view url) {
  auto result = otlp::parse_endpoint_url(url);
  if (!result.url) throw std::invalid_argument(std::string(url) + ": " + result.problem);
  return std::move(*result.url);
}

std::string problem(std::string_view url) {
  const auto result = otlp::parse_endpoint_url(url);
  return result.url ? "accepted" : result.problem;
}

TEST(OtlpEndpointUrl, HostPortAndPath) {
  const auto url = parsed("http://collector:4318/v1/traces");
  EXPECT_EQ(url.host, "collector");
  EXPECT_EQ(url.port, 4318);
  EXPECT_EQ(url.authority, "collector:4318");
  EXPECT_EQ(url.target, "/v1/traces");
}

TEST(OtlpEndpointUrl, DefaultsToPort80AndTheRootPath) {
  const auto url = parsed("http://collector");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.authority, "collector");
  EXPECT_EQ(url.target, "/");
  EXPECT_EQ(parsed("http://collector:/v1/traces").port, 80) << "an empty port is the default";
  EXPECT_EQ(parsed("HTTP://Collector:80/x").authority, "Collector") << "the scheme in any case; :80 left out";
}

TEST(OtlpEndpointUrl, Ipv6AddressesInBrackets) {
  const auto url = parsed("http://[::1]:4318/v1/traces");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 4318);
  EXPECT_EQ(url.authority, "[::1]:4318");
  EXPECT_EQ(parsed("http://[2001:db8::7]").authority, "[2001:db8::7]");
}

TEST(OtlpEndpointUrl, TheTargetKeepsTheQueryButNotTheFragment) {
  EXPECT_EQ(parsed("http://host/path?tenant=a#part").target, "/path?tenant=a");
  EXPECT_EQ(parsed("http://127.0.0.1:4318?tenant=a").target, "/?tenant=a");
  EXPECT_EQ(parsed("http://host#part").target, "/");
}

TEST(OtlpEndpointUrl, SaysWhyAUrlIsRefused) {
  EXPECT_NE(problem("https://collector:4318").find("only http:// endpoints"), std::string::npos);
  EXPECT_NE(problem("HTTPS://collector").find("only http:// endpoints"), std::string::npos);
  EXPECT_EQ(problem("collector:4318"), "expected an http:// URL");
  EXPECT_EQ(problem("grpc://collector:4317"), "expected an http:// URL");
  EXPECT_NE(problem("http://user:secret@collector").find("credentials"), std::string::npos);
  EXPECT_EQ(problem("http://[::1:4318"), "an IPv6 address without its closing ']'");
  EXPECT_EQ(problem("http://[::1]4318"), "unexpected characters after the IPv6 address");
  EXPECT_EQ(problem("http://[collector]"), "the brackets do not hold an IPv6 address");
  EXPECT_EQ(problem(std::string_view("http://[::1\0junk]/v1/traces", 27)), "the brackets do not hold an IPv6 address");
  EXPECT_EQ(problem("http://[::1%eth0 x]"), "the brackets do not hold an IPv6 address");
  EXPECT_EQ(problem("http://col lector"), "the host has characters a host name cannot have");
  EXPECT_EQ(problem("http://"), "no host");
  EXPECT_EQ(problem("http://:4318/v1/traces"), "no host");
  for (const char* url : {"http://host:0", "http://host:65536", "http://host:43a8", "http://host:-1"})
    EXPECT_EQ(problem(url), "the port is not a number from 1 to 65535") << url;
  EXPECT_NE(problem("http://host/v1 traces").find("percent-encode"), std::string::npos);
  EXPECT_NE(problem("http://host/v1/tr\xc3\xa4"
                    "ces")
                .find("percent-encode"),
            std::string::npos);
}

}  // namespace
