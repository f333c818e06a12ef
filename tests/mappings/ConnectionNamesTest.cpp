#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "mappings/ConnectionNames.h"

namespace bridge::mappings {
namespace {

// One row per status: every spelling of it, as API.md and legacy-schema.sql fix them.
struct StatusSpellings {
    ConnectionStatus status;
    std::string_view legacyName;
    std::string_view legacyMessage;
    std::string_view modernName;
    int legacyCode;
    std::vector<std::string_view> actions;
};

class ConnectionStatusSpellingTest : public testing::TestWithParam<StatusSpellings> {};

TEST_P(ConnectionStatusSpellingTest, SpellsEachWayAsTheContractsSay) {
    const auto& row = GetParam();
    EXPECT_EQ(legacyStatusName(row.status), row.legacyName);
    EXPECT_EQ(legacyStatusMessage(row.status), row.legacyMessage);
    EXPECT_EQ(modernStatusName(row.status), row.modernName);
    EXPECT_EQ(legacyCodeFromStatus(row.status), row.legacyCode);
    EXPECT_EQ(modernActions(row.status), row.actions);
}

TEST_P(ConnectionStatusSpellingTest, ParsesEachSpellingBack) {
    const auto& row = GetParam();
    EXPECT_EQ(parseLegacyStatusName(row.legacyName), row.status);
    EXPECT_EQ(parseModernStatusName(row.modernName), row.status);
    EXPECT_EQ(statusFromLegacyCode(row.legacyCode), row.status);
}

INSTANTIATE_TEST_SUITE_P(AllStatuses, ConnectionStatusSpellingTest,
                         testing::Values(StatusSpellings{ConnectionStatus::NotConnected,
                                                         "NotConnected",
                                                         "Salesforce connection is not established",
                                                         "NotConnected",
                                                         0,
                                                         {"login"}},
                                         StatusSpellings{ConnectionStatus::Connected,
                                                         "Established",
                                                         "Salesforce connection established successfully",
                                                         "Connected",
                                                         1,
                                                         {"refresh", "disconnect"}},
                                         StatusSpellings{
                                             ConnectionStatus::Disconnected,
                                             "Lost",
                                             "Salesforce connectivity was lost. Do you want to re-establish it?",
                                             "Disconnected",
                                             2,
                                             {"refresh", "disconnect"}}));

TEST(ConnectionStatusNames, RefusesNamesThatAreNotExactlyTheLegacyOnes) {
    for (const std::string_view name : {"", "Connected", "Disconnected", "established", "ESTABLISHED", "lost", "Lost ",
                                        " Lost", "notconnected", "Not Connected"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parseLegacyStatusName(name), std::nullopt);
    }
}

TEST(ConnectionStatusNames, RefusesNamesThatAreNotExactlyTheModernOnes) {
    for (const std::string_view name :
         {"", "Established", "Lost", "connected", "CONNECTED", "disconnected", "Connected ", "notConnected"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parseModernStatusName(name), std::nullopt);
    }
}

TEST(ConnectionStatusNames, RefusesLegacyCodesOutsideZeroToTwo) {
    for (const int code : {-1, 3, 4, 127, -128, 255}) {
        SCOPED_TRACE(code);
        EXPECT_EQ(statusFromLegacyCode(code), std::nullopt);
    }
}

TEST(EnvironmentNames, SpellsAndParsesBothEnvironments) {
    struct Row {
        Environment environment;
        std::string_view name;
        std::string_view letter;
    };
    for (const auto& row :
         {Row{Environment::Production, "production", "P"}, Row{Environment::Sandbox, "sandbox", "S"}}) {
        SCOPED_TRACE(row.name);
        EXPECT_EQ(environmentName(row.environment), row.name);
        EXPECT_EQ(legacyLetter(row.environment), row.letter);
        EXPECT_EQ(parseEnvironmentName(environmentName(row.environment)), row.environment);
        EXPECT_EQ(environmentFromLegacyLetter(legacyLetter(row.environment)), row.environment);
    }
}

TEST(EnvironmentNames, AcceptsTheLowerCaseLettersOfAnOldRelease) {
    EXPECT_EQ(environmentFromLegacyLetter("p"), Environment::Production);
    EXPECT_EQ(environmentFromLegacyLetter("s"), Environment::Sandbox);
}

TEST(EnvironmentNames, RefusesAnyOtherLegacyLetter) {
    for (const std::string_view letter : {"", "X", "x", "PS", "PP", " P", "P ", "production", "1", "0"}) {
        SCOPED_TRACE(letter);
        EXPECT_EQ(environmentFromLegacyLetter(letter), std::nullopt);
    }
}

TEST(EnvironmentNames, RefusesAnythingButTheExactLowerCaseWords) {
    for (const std::string_view name :
         {"", "Production", "PRODUCTION", "Sandbox", "SANDBOX", "P", "S", "prod", "test", " sandbox", "sandbox "}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parseEnvironmentName(name), std::nullopt);
    }
}

TEST(AuthorizationMethodNames, TranslatesBetweenTheLegacyColumnAndTheWire) {
    struct Row {
        AuthorizationMethod method;
        std::string_view legacyColumn;
        std::string_view wireName;
    };
    for (const auto& row : {Row{AuthorizationMethod::OAuth, "oauth", "oauth"},
                            Row{AuthorizationMethod::ApiOnlyUser, "api_only_user", "apiOnlyUser"}}) {
        SCOPED_TRACE(row.wireName);
        EXPECT_EQ(authorizationMethodLegacyColumn(row.method), row.legacyColumn);
        EXPECT_EQ(authorizationMethodWireName(row.method), row.wireName);
        EXPECT_EQ(authorizationMethodFromLegacyColumn(row.legacyColumn), row.method);
        EXPECT_EQ(parseAuthorizationMethodWireName(row.wireName), row.method);
    }
}

TEST(AuthorizationMethodNames, RefusesTheOtherSidesSpellingAndUnknownValues) {
    for (const std::string_view value : {"", "apiOnlyUser", "OAuth", "OAUTH", "api-only-user", "password", "oauth "}) {
        SCOPED_TRACE(value);
        EXPECT_EQ(authorizationMethodFromLegacyColumn(value), std::nullopt);
    }
    for (const std::string_view name : {"", "api_only_user", "OAuth", "apionlyuser", "ApiOnlyUser", " oauth"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parseAuthorizationMethodWireName(name), std::nullopt);
    }
}

}  // namespace
}  // namespace bridge::mappings
