// The admin console's files as the bridge serves them: compiled into the binary, public (the page asks for a token
// itself), under a strict Content-Security-Policy, with no inline script and no markup built from data. What the
// pages do in a browser is tested in browser/console_test.py.
#include <gtest/gtest.h>

#include <regex>

#include "ServerHarness.h"

namespace bridge::testing {
namespace {

void expectLockedDown(const HttpResult& result) {
    const std::string policy = result.header("Content-Security-Policy");
    EXPECT_NE(policy.find("default-src 'self'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
    EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
    EXPECT_EQ(result.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(result.header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(result.header("Cache-Control"), "no-store");
}

class ConsoleTest : public ::testing::Test {
protected:
    // One of the console's files, with its type and the security headers every one carries.
    HttpResult fetchFile(const std::string& path, const std::string& contentType) const {
        HttpResult result = server_.call("GET", path, "");
        EXPECT_EQ(result.status, 200) << path;
        EXPECT_EQ(result.header("Content-Type"), contentType) << path;
        expectLockedDown(result);
        return result;
    }

    ServerHarness server_;
};

TEST_F(ConsoleTest, ThePageIsServedWithoutATokenUnderAStrictPolicy) {
    const HttpResult page = fetchFile("/console/", "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<title>bridge console</title>"), std::string::npos);
    // Every script comes from a file of the bridge: a <script> element without src would be inline code.
    const std::regex script("<script\\b([^>]*)>");
    for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), script); it != std::sregex_iterator();
         ++it) {
        EXPECT_NE((*it)[1].str().find("src=\"/console/"), std::string::npos) << it->str();
    }
    // Nor an event-handler attribute (onclick=...), which the policy would block and the page must not need.
    EXPECT_FALSE(std::regex_search(page.body, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
}

TEST_F(ConsoleTest, ScriptAndStyleHaveTheirTypesAndTheScriptWritesNoMarkup) {
    const HttpResult script = fetchFile("/console/console.js", "text/javascript; charset=utf-8");
    EXPECT_EQ(script.body.find("innerHTML"), std::string::npos);
    EXPECT_EQ(script.body.find("eval("), std::string::npos);
    // The token lives in sessionStorage, never in a URL the page builds.
    EXPECT_NE(script.body.find("sessionStorage"), std::string::npos);

    fetchFile("/console/console.css", "text/css; charset=utf-8");
}

TEST_F(ConsoleTest, TheBarePathRedirectsAndUnknownFilesAreNotFound) {
    const HttpResult bare = server_.call("GET", "/console", "");
    EXPECT_EQ(bare.status, 302);
    EXPECT_EQ(bare.header("Location"), "/console/");

    const HttpResult unknown = server_.call("GET", "/console/../etc/passwd", "");
    EXPECT_EQ(unknown.status, 404);
    const HttpResult missing = server_.call("GET", "/console/secrets.json", "");
    EXPECT_EQ(missing.status, 404);
    const HttpResult written = server_.call("POST", "/console/", "", "{}");
    EXPECT_NE(written.status, 200);
}

}  // namespace
}  // namespace bridge::testing
