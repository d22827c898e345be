#include "gateway/security/token_authenticator.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cellgw::gateway {
namespace {

constexpr char kSchedulerToken[] = "sched-TOKEN-0123456789abcdef";
constexpr char kConductorToken[] = "cond/TOKEN+0123456789abcdef==";
constexpr char kRotatedToken[] = "sched-ROTATED-0123456789abcdef";

std::string TokensFile() {
  return std::string("# cellgw tokens\n\n") + "scheduler " + kSchedulerToken + "\n" +
         "  conductor\t" + kConductorToken + "  \r\n" + "scheduler " + kRotatedToken;
}

TEST(TokenAuthenticator, FindsTheIdentityOfEveryListedToken) {
  absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(TokensFile());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 3u);
  EXPECT_EQ(tokens->Authenticate(kSchedulerToken), "scheduler");
  EXPECT_EQ(tokens->Authenticate(kConductorToken), "conductor");
  EXPECT_EQ(tokens->Authenticate(kRotatedToken), "scheduler");  // several tokens per identity
  EXPECT_EQ(tokens->Identities(), (std::vector<std::string>{"conductor", "scheduler"}));
}

TEST(TokenAuthenticator, RejectsTokensThatAreNotListedExactly) {
  absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(TokensFile());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  const std::string token = kSchedulerToken;
  for (const std::string& wrong :
       {std::string(), token.substr(0, token.size() - 1), token + "x", "x" + token,
        std::string("SCHED-TOKEN-0123456789ABCDEF"), std::string("scheduler")}) {
    EXPECT_FALSE(tokens->Authenticate(wrong).has_value()) << wrong;
  }
  EXPECT_FALSE(TokenAuthenticator().Authenticate(kSchedulerToken).has_value());
}

struct BadFile {
  std::string text;
  std::string error;  // the expected message
};

TEST(TokenAuthenticator, BadLinesAreRefusedByNumberWithoutQuotingThem) {
  const std::string secret = "SECRET-0123456789abcdefXYZ";
  const std::vector<BadFile> cases = {
      {"\n" + secret + "\n", "line 2: expected \"<identity> <token>\" but found one field"},
      {"a " + secret + " extra\n",
       "line 1: expected \"<identity> <token>\" but found more than two fields"},
      {"bad/identity " + secret,
       "line 1: the identity must be 1 to 128 bytes of A-Z a-z 0-9 . _ - @ :"},
      {std::string(129, 'a') + " " + secret,
       "line 1: the identity must be 1 to 128 bytes of A-Z a-z 0-9 . _ - @ :"},
      {"a short-SECRET",
       "line 1: the token must be 16 to 4096 bytes long (generate one with `openssl rand "
       "-base64 32`)"},
      {"a " + secret + "\"quoted\"",
       "line 1: the token may only hold A-Z a-z 0-9 - . _ ~ + / and end in '=' padding "
       "(RFC 6750)"},
      {"a " + secret + "=x",
       "line 1: the token may only hold A-Z a-z 0-9 - . _ ~ + / and end in '=' padding "
       "(RFC 6750)"},
      {"a " + secret + "\nb " + secret,
       "line 2: this token is also on line 1; each token may belong to one identity only"},
      {"# only a comment\n\n", "holds no \"<identity> <token>\" line"},
      {"", "holds no \"<identity> <token>\" line"},
  };
  for (const BadFile& c : cases) {
    absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::Parse(c.text);
    ASSERT_FALSE(tokens.ok()) << c.text;
    EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tokens.status().message(), c.error);
    EXPECT_EQ(std::string(tokens.status().message()).find("SECRET"), std::string::npos);
  }
}

struct BearerCase {
  std::string header;
  std::string token;  // "" when the header must be refused
};

TEST(ParseBearerToken, AcceptsTheBearerSchemeOnly) {
  const std::vector<BearerCase> cases = {
      {"Bearer abc.DEF-123_~+/==", "abc.DEF-123_~+/=="},
      {"bearer abc", "abc"},    // the scheme is case-insensitive
      {"BEARER   abc", "abc"},  // one or more spaces
      {"Bearer", ""},
      {"Bearer ", ""},
      {"Bearerabc", ""},
      {"Basic dXNlcjpwYXNz", ""},
      {"Bearer abc def", ""},
      {"Bearer abc\t", ""},
      {"Bearer =abc", ""},
      {" Bearer abc", ""},
      {"", ""},
  };
  for (const BearerCase& c : cases) {
    absl::StatusOr<absl::string_view> token = ParseBearerToken(c.header);
    if (c.token.empty()) {
      ASSERT_FALSE(token.ok()) << c.header;
      EXPECT_EQ(token.status().message(), "authorization metadata must be \"Bearer <token>\"");
    } else {
      ASSERT_TRUE(token.ok()) << c.header;
      EXPECT_EQ(*token, c.token);
    }
  }
}

}  // namespace
}  // namespace cellgw::gateway
