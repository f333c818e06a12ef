#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mappings/Emails.h"

namespace bridge::mappings {
namespace {

TEST(NormalizeEmail, LowerCasesAsciiLettersOnly) {
    struct Row {
        std::string_view given;
        std::string_view normalized;
    };
    for (const auto& row : {Row{"Ann@Acme.Example", "ann@acme.example"}, Row{"ann@acme.example", "ann@acme.example"},
                            Row{"SVC-Integration+1@ACME.EXAMPLE", "svc-integration+1@acme.example"}, Row{"", ""},
                            Row{"Z@[]_^`{", "z@[]_^`{"},
                            // UTF-8 bytes are kept: only ASCII case is folded.
                            Row{"J\xC3\x9CRGEN@Acme.Example", "j\xC3\x9Crgen@acme.example"}}) {
        SCOPED_TRACE(row.given);
        EXPECT_EQ(normalizeEmail(row.given), row.normalized);
    }
}

TEST(NormalizeEmail, MakesEmailsThatDifferOnlyInCaseEqual) {
    EXPECT_EQ(normalizeEmail("Ann@Acme.Example"), normalizeEmail("aNN@acme.EXAMPLE"));
    EXPECT_NE(normalizeEmail("ann@acme.example"), normalizeEmail("anne@acme.example"));
}

TEST(LooksLikeEmail, AcceptsOrdinaryAddresses) {
    for (const std::string_view email :
         {"ann@acme.example", "svc-integration@acme.example", "a@b.c", "first.last+tag@sub.acme.example",
          "J\xC3\xBCrgen@acme.example", "x@xn--bcher-kva.example"}) {
        SCOPED_TRACE(email);
        EXPECT_TRUE(looksLikeEmail(email));
    }
}

TEST(LooksLikeEmail, RefusesWhatIsNotOne) {
    for (const std::string_view text : {
             "",
             "ann",
             "ann.acme.example",        // no '@'
             "@acme.example",           // empty local part
             "ann@",                    // empty domain
             "ann@acme",                // domain without a dot
             "ann@@acme.example",       // two '@'
             "ann@acme@example.com",    // two '@'
             "ann smith@acme.example",  // space
             " ann@acme.example",       // leading space
             "ann@acme.example ",       // trailing space
             "ann\t@acme.example",      // control character
             "ann@acme.example\n",      // control character
             "ann@acme.exa\x7Fmple",    // DEL
             "ann@.acme.example",       // empty first label
             "ann@acme.example.",       // empty last label
             "ann@acme..example",       // empty middle label
             "ann@.",
         }) {
        SCOPED_TRACE(text);
        EXPECT_FALSE(looksLikeEmail(text));
    }
    EXPECT_FALSE(looksLikeEmail(std::string_view("ann\0x@acme.example", 18)));
}

TEST(LooksLikeEmail, AcceptsUpTo320Characters) {
    const std::string domain = "@acme.example";
    const std::string longest = std::string(kMaxEmailLength - domain.size(), 'a') + domain;
    ASSERT_EQ(longest.size(), 320U);
    EXPECT_TRUE(looksLikeEmail(longest));
    EXPECT_FALSE(looksLikeEmail("a" + longest));
}

}  // namespace
}  // namespace bridge::mappings
