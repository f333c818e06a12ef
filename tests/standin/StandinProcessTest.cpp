#include <Poco/Net/NetException.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

#include "StandinTestClient.h"
#include "testsupport/ChildProcess.h"
#include "testsupport/StandinProcess.h"

namespace bridge::standin::test {
namespace {

using testsupport::ChildProcess;
using testsupport::ChildProcessOptions;
using testsupport::StandinProcess;

TEST(StandinProcessTest, RunsTheExecutableAndDrivesItThroughTheControlInterface) {
    StandinProcess standin(testsupport::StandinProcessOptions{.clientId = "app-id", .clientSecret = "app-secret"});
    const StandinTestClient client(standin.baseUrl(), "app-id", "app-secret");
    EXPECT_EQ(standin.baseUrl(), "http://127.0.0.1:" + std::to_string(standin.port()));

    const Poco::JSON::Object::Ptr identity =
        standin.setIdentity({.userId = "005xx000002AbCd", .organizationId = "00Dxx0000002XyZ"});
    EXPECT_EQ(identity->getValue<std::string>("userId"), "005xx000002AbCdAAK");
    EXPECT_EQ(standin.identity()->getValue<std::string>("organizationId"), "00Dxx0000002XyZEAU");
    const Poco::JSON::Object::Ptr settings = standin.settings({.rotation = true});
    EXPECT_TRUE(settings->getValue<bool>("rotation"));

    const Poco::JSON::Object::Ptr login = client.login();
    const std::string refreshToken = login->getValue<std::string>("refresh_token");
    EXPECT_EQ(login->getValue<std::string>("id"), standin.baseUrl() + "/id/00Dxx0000002XyZEAU/005xx000002AbCdAAK");

    EXPECT_EQ(standin.injectFault("status500", 2, "refresh_token"), 2);
    EXPECT_EQ(standin.injectFault(testsupport::StandinFault{.kind = "invalidGrant", .description = "custom failure"}),
              3);
    EXPECT_EQ(client.refresh(refreshToken).status, 500);
    EXPECT_EQ(client.refresh(refreshToken).status, 500);
    EXPECT_EQ(client.refresh(refreshToken).json()->getValue<std::string>("error_description"), "custom failure");
    EXPECT_EQ(standin.counter("faultsServed"), 3);

    const HttpReply rotated = client.refresh(refreshToken);
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    EXPECT_TRUE(rotated.json()->has("refresh_token"));
    EXPECT_EQ(standin.counter("activeRefreshTokens"), 1);
    EXPECT_EQ(standin.expireRefreshTokens(std::nullopt, "00Dxx0000002XyZ"), 1);
    EXPECT_EQ(standin.counter("activeRefreshTokens"), 0);
    EXPECT_EQ(standin.counters()->getObject("refreshCallsByUser")->getValue<Poco::Int64>("005xx000002AbCdAAK"), 4);

    standin.reset();
    EXPECT_EQ(standin.counter("refreshCalls"), 0);
    EXPECT_FALSE(standin.settings({})->getValue<bool>("rotation"));
    EXPECT_EQ(standin.process().terminate(), 0);
}

TEST(StandinProcessTest, FollowAuthorizationReturnsTheCallbackRedirect) {
    StandinProcess standin;
    const StandinTestClient client(standin.baseUrl(), standin.clientId(), standin.clientSecret());
    const std::string authorizationUrl = standin.baseUrl() + "/services/oauth2/authorize?" +
                                         formEncode({{"response_type", "code"},
                                                     {"client_id", standin.clientId()},
                                                     {"redirect_uri", kRedirectUri},
                                                     {"state", "s1"},
                                                     {"scope", kFullScope},
                                                     {"code_challenge", kCodeChallenge},
                                                     {"code_challenge_method", "S256"}});

    const HttpFields approved = queryOf(standin.followAuthorization(authorizationUrl));
    standin.setAuthorizeDecision(false);
    const HttpFields denied = queryOf(standin.followAuthorization(authorizationUrl));

    EXPECT_EQ(approved.at("state"), "s1");
    EXPECT_EQ(client.exchangeCode(approved.at("code")).status, 200);
    EXPECT_EQ(denied.at("error"), "access_denied");
    EXPECT_EQ(standin.counter("authorizeRequests"), 2);
}

TEST(StandinProcessTest, UserControlsAndErrorsSurfaceAsExceptions) {
    StandinProcess standin;
    const StandinTestClient client(standin.baseUrl(), standin.clientId(), standin.clientSecret());
    const std::string refreshToken = client.login()->getValue<std::string>("refresh_token");

    standin.markPasswordChanged("005xx000001SvYb");
    EXPECT_EQ(client.refresh(refreshToken).json()->getValue<std::string>("error_description"),
              "authentication failure");
    const std::string second = client.login()->getValue<std::string>("refresh_token");
    standin.deactivateUser("005xx000001SvYbAAK");
    EXPECT_EQ(client.refresh(second).json()->getValue<std::string>("error_description"), "inactive user");

    EXPECT_THROW(standin.deactivateUser("005xx000009Nope"), std::runtime_error);
    EXPECT_THROW(standin.injectFault("no-such-kind"), std::runtime_error);
}

TEST(StandinProcessTest, StopsCleanlyOnSigterm) {
    StandinProcess standin;
    const StandinTestClient client(standin.baseUrl(), standin.clientId(), standin.clientSecret());
    standin.injectFault(testsupport::StandinFault{.kind = "hang", .hangMs = 60000});
    auto hanging = std::async(std::launch::async, [&] { return client.refresh("5Aep861any"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(standin.process().terminate(std::chrono::seconds(10)), 0);

    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_THROW(hanging.get(), Poco::Exception);
}

TEST(ChildProcessTest, PassesArgumentsAndEnvironmentAndCapturesLines) {
    ChildProcess child(ChildProcessOptions{
        .executable = "/bin/sh",
        .arguments = {"-c", "echo first; echo \"value $BRIDGE_CHILD_TEST $1\"; printf unterminated", "sh", "arg"},
        .environment = {{"BRIDGE_CHILD_TEST", "from-env"}},
    });

    EXPECT_EQ(child.waitForLine("value"), "value from-env arg");
    EXPECT_EQ(child.wait(), 0);
    EXPECT_EQ(child.waitForLine("unterminated"), "unterminated");
    EXPECT_EQ(child.lines(), (std::vector<std::string>{"first", "value from-env arg", "unterminated"}));
}

TEST(ChildProcessTest, WaitForLineTimesOutOrFailsWhenOutputEnds) {
    ChildProcess silent(ChildProcessOptions{.executable = "/bin/sleep", .arguments = {"30"}});
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(silent.waitForLine("never", std::chrono::milliseconds(200)), std::runtime_error);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_TRUE(silent.running());

    ChildProcess finished(ChildProcessOptions{.executable = "/bin/sh", .arguments = {"-c", "echo done; exit 3"}});
    EXPECT_THROW(finished.waitForLine("never", std::chrono::seconds(30)), std::runtime_error);
    EXPECT_EQ(finished.wait(), 3);
}

TEST(ChildProcessTest, CapturesStderrWhenAsked) {
    ChildProcess child(
        ChildProcessOptions{.executable = "/bin/sh", .arguments = {"-c", "echo oops >&2"}, .captureStderr = true});

    EXPECT_EQ(child.waitForLine("oops"), "oops");
}

TEST(ChildProcessTest, TerminateEscalatesToKillAfterTheGracePeriod) {
    ChildProcess stubborn(ChildProcessOptions{
        .executable = "/bin/sh", .arguments = {"-c", "trap '' TERM; echo ready; while true; do sleep 1; done"}});
    stubborn.waitForLine("ready");

    EXPECT_EQ(stubborn.terminate(std::chrono::milliseconds(200)), 128 + SIGKILL);
    EXPECT_FALSE(stubborn.running());
    EXPECT_EQ(stubborn.wait(), 128 + SIGKILL);
}

TEST(ChildProcessTest, KillAndWaitForReportTheSignal) {
    ChildProcess child(ChildProcessOptions{.executable = "/bin/sleep", .arguments = {"30"}});

    EXPECT_EQ(child.waitFor(std::chrono::milliseconds(50)), std::nullopt);
    EXPECT_EQ(child.kill(), 128 + SIGKILL);
    EXPECT_EQ(child.waitFor(std::chrono::milliseconds(0)), 128 + SIGKILL);
}

}  // namespace
}  // namespace bridge::standin::test
