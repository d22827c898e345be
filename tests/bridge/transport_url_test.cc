#include "bridge/transport_url.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cellgw::bridge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

TransportUrl MustParse(const std::string& url) {
  absl::StatusOr<TransportUrl> parsed = ParseTransportUrl(url);
  EXPECT_TRUE(parsed.ok()) << url << ": " << parsed.status();
  return parsed.ok() ? *parsed : TransportUrl();
}

void ExpectHost(const BrokerHost& host, const std::string& name, uint16_t port,
                const std::string& username, const std::string& password) {
  EXPECT_EQ(host.host, name);
  EXPECT_EQ(host.port, port);
  EXPECT_EQ(host.username, username);
  EXPECT_EQ(host.password, password);
}

// §11 examples and the grammar's corners, one host each.
struct SingleHostCase {
  std::string name;
  std::string url;
  std::string host;
  uint16_t port;
  std::string username;
  std::string password;
  std::string virtual_host;
};

class SingleHostTest : public ::testing::TestWithParam<SingleHostCase> {};

TEST_P(SingleHostTest, ParsesHostCredentialsAndVirtualHost) {
  const SingleHostCase& c = GetParam();
  const TransportUrl url = MustParse(c.url);
  ASSERT_EQ(url.hosts.size(), 1u);
  ExpectHost(url.hosts[0], c.host, c.port, c.username, c.password);
  EXPECT_EQ(url.virtual_host, c.virtual_host);
  EXPECT_TRUE(url.query.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SingleHostTest,
    ::testing::Values(
        SingleHostCase{"Minimal", "rabbit://guest:guest@127.0.0.1:5672/cell1", "127.0.0.1",
                       5672, "guest", "guest", "cell1"},
        SingleHostCase{"KombuScheme", "kombu://u:p@h:5673/v", "h", 5673, "u", "p", "v"},
        SingleHostCase{"SchemeIsCaseInsensitive", "RABBIT://u:p@h/v", "h", 5672, "u", "p",
                       "v"},
        SingleHostCase{"NoHostsIsLocalhostGuest", "rabbit://", "localhost", 5672, "guest",
                       "guest", "/"},
        SingleHostCase{"NoHostsWithVhost", "rabbit:///vh", "localhost", 5672, "guest",
                       "guest", "vh"},
        SingleHostCase{"RawAtInUser", "rabbit://a@b:pw@host/", "host", 5672, "a@b", "pw",
                       "/"},
        SingleHostCase{"ColonInPassword", "rabbit://user:pa:ss@host/", "host", 5672, "user",
                       "pa:ss", "/"},
        SingleHostCase{"PercentDecodedSeparately", "rabbit://u%40x:p%3Aw@h1/v%2Fh", "h1",
                       5672, "u@x", "p:w", "v/h"},
        SingleHostCase{"Ipv6WithPort", "rabbit://guest:guest@[::1]:5673/", "::1", 5673,
                       "guest", "guest", "/"},
        SingleHostCase{"Ipv6WithoutPort", "rabbit://[fe80::1]/", "fe80::1", 5672, "guest",
                       "guest", "/"},
        SingleHostCase{"Ipv6EmptyPort", "rabbit://[::1]:/", "::1", 5672, "guest", "guest",
                       "/"},
        SingleHostCase{"EmptyPortIsDefault", "rabbit://u:p@h:/v", "h", 5672, "u", "p", "v"},
        SingleHostCase{"UserWithoutPasswordIsGuestPassword", "rabbit://u@h", "h", 5672, "u",
                       "guest", "/"},
        SingleHostCase{"EmptyPasswordIsGuest", "rabbit://u:@h", "h", 5672, "u", "guest",
                       "/"},
        SingleHostCase{"EmptyUserIsGuest", "rabbit://:p@h", "h", 5672, "guest", "p", "/"},
        SingleHostCase{"EmptyCredentialsAreGuest", "rabbit://@h", "h", 5672, "guest",
                       "guest", "/"},
        SingleHostCase{"NoPathIsSlash", "rabbit://h:5672", "h", 5672, "guest", "guest", "/"},
        SingleHostCase{"EmptyPathIsSlash", "rabbit://h:5672/", "h", 5672, "guest", "guest",
                       "/"},
        SingleHostCase{"DoubleSlashIsSlash", "rabbit://h:5672//", "h", 5672, "guest",
                       "guest", "/"},
        SingleHostCase{"EncodedSlashIsSlash", "rabbit://h:5672/%2F", "h", 5672, "guest",
                       "guest", "/"},
        SingleHostCase{"VhostDecoded", "rabbit://h/a%20b%2Fc", "h", 5672, "guest", "guest",
                       "a b/c"},
        SingleHostCase{"InvalidPercentEscapeKeptLiterally", "rabbit://u:100%zz@h/", "h",
                       5672, "u", "100%zz", "/"},
        SingleHostCase{"PlusInPasswordIsLiteral", "rabbit://u:a+b@h/", "h", 5672, "u", "a+b",
                       "/"},
        SingleHostCase{"PortBounds", "rabbit://h:65535/", "h", 65535, "guest", "guest", "/"}),
    [](const ::testing::TestParamInfo<SingleHostCase>& info) { return info.param.name; });

TEST(ParseTransportUrlTest, MultipleHostsKeepOrderAndTheirOwnCredentials) {
  const TransportUrl url = MustParse("rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh");
  ASSERT_EQ(url.hosts.size(), 2u);
  ExpectHost(url.hosts[0], "h1", 5672, "u1", "p1");
  ExpectHost(url.hosts[1], "h2", 5673, "u2", "p2");
  EXPECT_EQ(url.virtual_host, "vh");
}

TEST(ParseTransportUrlTest, LaterHostsWithoutCredentialsUseGuest) {
  const TransportUrl url = MustParse("rabbit://u:p@h1,h2:5673");
  ASSERT_EQ(url.hosts.size(), 2u);
  ExpectHost(url.hosts[0], "h1", 5672, "u", "p");
  ExpectHost(url.hosts[1], "h2", 5673, "guest", "guest");
}

TEST(ParseTransportUrlTest, EmptyHostEntriesAreSkipped) {
  const TransportUrl url = MustParse("rabbit://h1,,h2,");
  ASSERT_EQ(url.hosts.size(), 2u);
  EXPECT_EQ(url.hosts[0].host, "h1");
  EXPECT_EQ(url.hosts[1].host, "h2");
}

TEST(ParseTransportUrlTest, QueryIsDecodedInOrderWithRepeatedKeysJoined) {
  const TransportUrl url =
      MustParse("rabbit://h/v?ssl=true&heartbeat_timeout_threshold=10&ssl=1&a%3Db=x+y%26z&&");
  EXPECT_THAT(url.query, ElementsAre(Pair("ssl", "true,1"),
                                     Pair("heartbeat_timeout_threshold", "10"),
                                     Pair("a=b", "x y&z")));
}

TEST(ParseTransportUrlTest, QueryWithoutVhost) {
  const TransportUrl url = MustParse("rabbit://h:5672?heartbeat_timeout_threshold=10");
  EXPECT_EQ(url.virtual_host, "/");
  EXPECT_THAT(url.query, ElementsAre(Pair("heartbeat_timeout_threshold", "10")));
}

TEST(ParseTransportUrlTest, AmqpSchemeIsRefusedAsTheAmqp10Driver) {
  absl::StatusOr<TransportUrl> url = ParseTransportUrl("amqp://guest:guest@localhost:5672/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(url.status().message()), HasSubstr("AMQP 1.0"));
  EXPECT_THAT(std::string(url.status().message()), HasSubstr("use rabbit://"));
}

struct ErrorCase {
  std::string name;
  std::string url;
  std::string message_part;
};

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, IsInvalidArgumentNamingTransportUrl) {
  const ErrorCase& c = GetParam();
  absl::StatusOr<TransportUrl> url = ParseTransportUrl(c.url);
  ASSERT_FALSE(url.ok()) << c.url;
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(url.status().message()), StartsWith("transport_url: "));
  EXPECT_THAT(std::string(url.status().message()), HasSubstr(c.message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseErrorTest,
    ::testing::Values(
        ErrorCase{"Empty", "", "must start with rabbit://"},
        ErrorCase{"NoScheme", "guest:guest@localhost:5672/", "must start with rabbit://"},
        ErrorCase{"UnknownScheme", "kafka://h/", "scheme \"kafka\" is not supported"},
        ErrorCase{"PortZero", "rabbit://h:0/", "host 1: port"},
        ErrorCase{"PortTooLarge", "rabbit://h:65536/", "host 1: port"},
        ErrorCase{"PortHuge", "rabbit://h:99999999999999999999/", "host 1: port"},
        ErrorCase{"PortNotNumber", "rabbit://h:abc/", "host 1: port"},
        ErrorCase{"PortSigned", "rabbit://h:+5672/", "host 1: port"},
        ErrorCase{"SecondHostBadPort", "rabbit://u:p@h1,u:p@h2:x/", "host 2: port"},
        ErrorCase{"BareIpv6", "rabbit://::1/", "host 1:"},
        ErrorCase{"UnclosedBracket", "rabbit://[::1:5672/", "no ']'"},
        ErrorCase{"JunkAfterBracket", "rabbit://[::1]x/", "only \":port\""},
        ErrorCase{"NotIpv6InBrackets", "rabbit://[host]/", "not an IPv6 address"},
        ErrorCase{"EmptyHostName", "rabbit://u:p@:5672/", "host 1: the host name is empty"},
        ErrorCase{"BadHostChar", "rabbit://h!st/", "host 1: the host name may hold only"},
        ErrorCase{"Space", "rabbit://u:p w@h/", "space or control character"},
        ErrorCase{"Newline", "rabbit://h/\n", "space or control character"},
        ErrorCase{"Fragment", "rabbit://u:p@h/v#x", "'#'"},
        ErrorCase{"NulInPassword", "rabbit://u:a%00b@h/", "password contains a NUL byte"},
        ErrorCase{"NulInUser", "rabbit://a%00b:p@h/", "user name contains a NUL byte"},
        ErrorCase{"NulInVhost", "rabbit://h/a%00", "virtual host contains a NUL byte"},
        ErrorCase{"QueryWithoutValue", "rabbit://h/?ssl", "query parameter 1 has no"},
        ErrorCase{"QueryEmptyName", "rabbit://h/?=1", "empty name"},
        ErrorCase{"AtAfterHostList", "rabbit://h/v@x", "'@' after the host list"},
        ErrorCase{"HostWithoutCredentialsBeforeOneWith", "rabbit://h1,u:p@h2/",
                  "host 1: has no credentials but a later host has"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

// Every URL here holds the password "s3cr3t" (or a piece of it) somewhere; neither the
// redacted form nor a parse error may show it.
struct RedactCase {
  std::string name;
  std::string url;
  std::string redacted;
};

class RedactTest : public ::testing::TestWithParam<RedactCase> {};

TEST_P(RedactTest, ReplacesPasswordsAndKeepsTheRest) {
  EXPECT_EQ(RedactTransportUrl(GetParam().url), GetParam().redacted);
}

TEST_P(RedactTest, ParseErrorNeverContainsThePassword) {
  absl::StatusOr<TransportUrl> url = ParseTransportUrl(GetParam().url);
  if (url.ok()) GTEST_SKIP() << "parses";
  EXPECT_THAT(std::string(url.status().message()), ::testing::Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(std::string(url.status().message()), ::testing::Not(HasSubstr("s3c")));
  EXPECT_THAT(std::string(url.status().message()), ::testing::Not(HasSubstr("r3t")));
}

TEST_P(RedactTest, RedactedFormNeverContainsThePassword) {
  const std::string redacted = RedactTransportUrl(GetParam().url);
  EXPECT_THAT(redacted, ::testing::Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(redacted, ::testing::Not(HasSubstr("s3c")));
  EXPECT_THAT(redacted, ::testing::Not(HasSubstr("r3t")));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RedactTest,
    ::testing::Values(
        RedactCase{"Simple", "rabbit://guest:s3cr3t@127.0.0.1:5672/cell1",
                   "rabbit://guest:***@127.0.0.1:5672/cell1"},
        RedactCase{"RawAtInUser", "rabbit://a@b:s3cr3t@host/", "rabbit://a@b:***@host/"},
        RedactCase{"ColonInPassword", "rabbit://user:s3c:r3t@host/", "rabbit://user:***@host/"},
        RedactCase{"PercentEncoded", "rabbit://u%40x:s3c%3Ar3t@h1/v%2Fh",
                   "rabbit://u%40x:***@h1/v%2Fh"},
        RedactCase{"Ipv6", "rabbit://guest:s3cr3t@[::1]:5673/", "rabbit://guest:***@[::1]:5673/"},
        RedactCase{"MultiHostDifferentCredentials",
                   "rabbit://u1:s3cr3t@h1:5672,u2:s3cr3t2@h2:5673/vh?ssl=1",
                   "rabbit://u1:***@h1:5672,u2:***@h2:5673/vh?ssl=1"},
        RedactCase{"BadPort", "rabbit://u:s3cr3t@h:0/vh", "rabbit://***@h:0/vh"},
        RedactCase{"BadPortOnSecondHost", "rabbit://u1:s3cr3t@h1,u2:s3cr3t@h2:x/vh",
                   "rabbit://***@h2:x/vh"},
        RedactCase{"AmqpScheme", "amqp://u:s3cr3t@h/", "amqp://***@h/"},
        RedactCase{"NoScheme", "u:s3cr3t@h/", "***@h/"},
        // Raw delimiters inside the password: the host list is cut short, so the whole
        // credential span goes.
        RedactCase{"RawSlashInPassword", "rabbit://u:s3c/r3t@h/vh", "rabbit://***@h/vh"},
        RedactCase{"RawSlashAfterDigits", "rabbit://u:12/s3cr3t@h/vh", "rabbit://***@h/vh"},
        RedactCase{"RawQuestionMarkInPassword", "rabbit://u:1?s3cr3t=r3t@h/",
                   "rabbit://***@h/"},
        RedactCase{"RawHashInPassword", "rabbit://u:s3c#r3t@h/", "rabbit://***@h/"},
        RedactCase{"RawCommaInPassword", "rabbit://u:12,s3cr3t@h/", "rabbit://***@h/"},
        RedactCase{"SpaceInPassword", "rabbit://u:s3c r3t@h/", "rabbit://***@h/"}),
    [](const ::testing::TestParamInfo<RedactCase>& info) { return info.param.name; });

TEST(RedactTransportUrlTest, UrlWithoutCredentialsIsUnchanged) {
  EXPECT_EQ(RedactTransportUrl("rabbit://h1:5672,h2/vh?ssl=1"), "rabbit://h1:5672,h2/vh?ssl=1");
}

TEST(RedactTransportUrlTest, UserWithoutPasswordIsUnchanged) {
  EXPECT_EQ(RedactTransportUrl("rabbit://nova@h/"), "rabbit://nova@h/");
}

TEST(RedactTransportUrlTest, EmptyPasswordIsLeftAsWritten) {
  EXPECT_EQ(RedactTransportUrl("rabbit://u:@h/vh"), "rabbit://u:@h/vh");
}

TEST(ParseTransportUrlTest, ErrorQuotesTheRedactedUrl) {
  absl::StatusOr<TransportUrl> url = ParseTransportUrl("rabbit://u:s3cr3t@h:0/vh");
  ASSERT_FALSE(url.ok());
  EXPECT_THAT(std::string(url.status().message()), HasSubstr("\"rabbit://***@h:0/vh\""));
}

}  // namespace
}  // namespace cellgw::bridge
