// StoreRekey against real stores (SQLite files and the MariaDB server the fixture starts): every sealed value
// re-sealed under the active key in batches, reruns that find nothing to do, values no key opens reported and
// left, refreshes in flight never overwritten, and a store failure ending the run with what was done.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "BrokerRules.h"
#include "StoreBackends.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/services/Connectivity.h"
#include "bridge/services/StoreRekey.h"
#include "migrations/SchemaCatalog.h"

namespace bridge::storetest {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kFirstNewLegacyId = 2'000'000'000;
constexpr int kPoolSize = 8;
const std::string kKeyOld = "old:" + base64Encode(std::string(32, 'o'));
const std::string kKeyNew = "new:" + base64Encode(std::string(32, 'n'));
const std::string kKeyLost = "lost:" + base64Encode(std::string(32, 'l'));
const std::string kInstanceUrl = "https://acme.my.salesforce.com";

std::string refreshPlaintext(std::int64_t orgId) { return "refresh-token-of-" + std::to_string(orgId); }

template <typename Backend>
class StoreRekeyTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { Backend::startSuite(); }
    static void TearDownTestSuite() { Backend::stopSuite(); }

    void SetUp() override {
        dsn_ = backend_.freshDsn();
        store_ = openStore(dsn_, kPoolSize, std::chrono::seconds(1));
        migrations::upgradeSchema(*store_);
    }

    Store& store() { return *store_; }

    // An organization connected with a refresh token sealed by `cipher`.
    std::int64_t connectedOrganization(const TokenCipher& cipher) {
        const std::int64_t orgId = store_->createOrganization("Org", kFirstNewLegacyId).legacyId;
        ConnectionTransition transition;
        transition.expectedVersion = 0;
        transition.next.orgId = orgId;
        transition.next.serviceAccountLoginEnabled = true;
        transition.next.status = ConnectionStatus::Connected;
        transition.next.environment = Environment::Production;
        transition.next.instanceUrl = kInstanceUrl;
        transition.next.refreshToken =
            cipher.seal(refreshPlaintext(orgId), Connectivity::refreshTokenAssociatedData(orgId));
        EXPECT_TRUE(store_->applyTransition(transition));
        return orgId;
    }

    // The organization's shared access token, sealed by `cipher` the way the broker seals it.
    void storeAccessToken(std::int64_t orgId, const TokenCipher& cipher, const std::string& associatedData,
                          UnixSeconds expiresAt) {
        const std::string owner = "setup-" + std::to_string(orgId);
        ASSERT_TRUE(store_->tryAcquireRefreshLease(orgId, owner, std::chrono::seconds(60)));
        RefreshOutcome outcome;
        outcome.orgId = orgId;
        outcome.leaseOwner = owner;
        outcome.presentedRefreshCiphertext = store_->loadConnection(orgId).refreshToken->ciphertext;
        outcome.accessToken = StoredAccessToken{cipher.seal("access-token-of-" + std::to_string(orgId), associatedData),
                                                kInstanceUrl, expiresAt};
        outcome.refreshedAt = expiresAt - 900;
        ASSERT_TRUE(store_->commitRefresh(outcome));
        store_->releaseRefreshLease(orgId, owner);
    }

    std::string openRefreshToken(const TokenCipher& cipher, std::int64_t orgId) {
        return cipher.open(*store_->loadConnection(orgId).refreshToken,
                           Connectivity::refreshTokenAssociatedData(orgId));
    }

    StoreRekey::Summary rekey(const TokenCipher& cipher, int batchSize, std::ostream& report,
                              std::vector<std::int64_t>* progress = nullptr, int passes = 5) {
        StoreRekey::Settings settings;
        settings.batchSize = batchSize;
        settings.passes = passes;
        settings.pauseBetweenPasses = 20ms;
        StoreRekey rekey(*store_, cipher, settings, report);
        return rekey.run([progress](std::int64_t handled) {
            if (progress) progress->push_back(handled);
        });
    }

    std::int64_t leftUnder(const std::string& activeKeyId) {
        std::int64_t left = 0;
        for (SealedColumn column :
             {SealedColumn::RefreshToken, SealedColumn::AccessToken, SealedColumn::CodeVerifier}) {
            left += store_->countSealedNotUnder(column, activeKeyId);
        }
        return left;
    }

    Backend backend_;
    std::string dsn_;
    std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<SqliteBackend, MariaDbBackend>;
TYPED_TEST_SUITE(StoreRekeyTest, Backends);

TYPED_TEST(StoreRekeyTest, EverySealedValueIsResealedUnderTheActiveKeyInBatchesAndARerunFindsNothingToDo) {
    const TokenCipher before = TokenCipher::fromSpec(kKeyOld);
    const TokenCipher rotating = TokenCipher::fromSpec(kKeyNew + "," + kKeyOld);
    const TokenCipher after = TokenCipher::fromSpec(kKeyNew);
    std::vector<std::int64_t> orgs;
    for (int i = 0; i < 7; ++i) orgs.push_back(this->connectedOrganization(before));
    const std::int64_t alreadyNew = this->connectedOrganization(rotating);
    const UnixSeconds expiresAt = 1'900'000'000;
    this->storeAccessToken(orgs[0], before, accessTokenAssociatedData(orgs[0], kInstanceUrl, expiresAt), expiresAt);
    this->storeAccessToken(orgs[1], before, accessTokenAssociatedData(orgs[1], kInstanceUrl, expiresAt), expiresAt);
    // Sealed by an earlier version, for the organization alone.
    this->storeAccessToken(orgs[2], before, unboundAccessTokenAssociatedData(orgs[2]), expiresAt);
    OAuthAttempt attempt;
    attempt.stateHash = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    attempt.orgId = orgs[3];
    attempt.panel = Panel::Modern;
    attempt.environment = Environment::Production;
    attempt.actor = "admin";
    attempt.codeVerifier = before.seal("pkce-verifier", Connectivity::codeVerifierAssociatedData(attempt.stateHash));
    attempt.expiresAt = 1'900'000'000;
    this->store().insertOAuthAttempt(attempt);
    constexpr std::int64_t kToReseal = 7 + 3 + 1;
    ASSERT_EQ(this->leftUnder("new"), kToReseal);

    std::ostringstream report;
    std::vector<std::int64_t> progress;
    const StoreRekey::Summary summary = this->rekey(rotating, 2, report, &progress);

    EXPECT_EQ(summary.line(), "rewritten 11, already current 1, skipped 0, busy 0, failed 0");
    EXPECT_EQ(summary.exitCode(), 0);
    EXPECT_EQ(report.str(), "");
    EXPECT_EQ(this->leftUnder("new"), 0);
    // Batches of two: seven refresh tokens take four, three access tokens two, one verifier one.
    EXPECT_EQ(progress, (std::vector<std::int64_t>{2, 4, 6, 7, 9, 10, 11}));

    // The old key can go: everything opens under the new one alone, to what it was.
    for (const std::int64_t orgId : orgs) EXPECT_EQ(this->openRefreshToken(after, orgId), refreshPlaintext(orgId));
    EXPECT_EQ(this->openRefreshToken(after, alreadyNew), refreshPlaintext(alreadyNew));
    for (int i = 0; i < 2; ++i) {
        const auto stored = this->store().loadAccessToken(orgs[i]);
        ASSERT_TRUE(stored);
        EXPECT_EQ(stored->token.keyId, "new");
        EXPECT_EQ(openAccessToken(after, orgs[i], *stored).token, "access-token-of-" + std::to_string(orgs[i]));
    }
    const auto unbound = this->store().loadAccessToken(orgs[2]);
    ASSERT_TRUE(unbound);
    EXPECT_EQ(after.open(unbound->token, unboundAccessTokenAssociatedData(orgs[2])),
              "access-token-of-" + std::to_string(orgs[2]));
    const auto resealedAttempt = this->store().findOAuthAttempt(attempt.stateHash);
    ASSERT_TRUE(resealedAttempt);
    EXPECT_EQ(after.open(resealedAttempt->codeVerifier, Connectivity::codeVerifierAssociatedData(attempt.stateHash)),
              "pkce-verifier");

    const Connection settled = this->store().loadConnection(orgs[4]);
    std::ostringstream rerunReport;
    const StoreRekey::Summary rerun = this->rekey(rotating, 2, rerunReport);
    EXPECT_EQ(rerun.line(), "rewritten 0, already current 12, skipped 0, busy 0, failed 0");
    EXPECT_EQ(rerun.exitCode(), 0);
    EXPECT_EQ(rerunReport.str(), "");
    EXPECT_EQ(this->store().loadConnection(orgs[4]).version, settled.version) << "a rerun writes nothing";
}

TYPED_TEST(StoreRekeyTest, AValueNoConfiguredKeyOpensIsReportedLeftAsItIsAndTheRestIsResealed) {
    const TokenCipher lost = TokenCipher::fromSpec(kKeyLost);
    const TokenCipher before = TokenCipher::fromSpec(kKeyOld);
    const TokenCipher rotating = TokenCipher::fromSpec(kKeyNew + "," + kKeyOld);
    const std::int64_t unopenable = this->connectedOrganization(lost);
    const std::int64_t fine = this->connectedOrganization(before);
    const Connection untouched = this->store().loadConnection(unopenable);

    std::ostringstream report;
    const StoreRekey::Summary summary = this->rekey(rotating, 500, report);

    EXPECT_EQ(summary.line(), "rewritten 1, already current 0, skipped 1, busy 0, failed 0");
    EXPECT_EQ(summary.exitCode(), 3);
    const std::string line = report.str();
    EXPECT_EQ(line.rfind("skipped refresh token of organization " + std::to_string(unopenable) + ": ", 0), 0u) << line;
    EXPECT_NE(line.find("lost"), std::string::npos) << "names the key id: " << line;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "one line, even over five passes: " << line;
    EXPECT_EQ(line.find(refreshPlaintext(unopenable)), std::string::npos);
    const Connection after = this->store().loadConnection(unopenable);
    EXPECT_EQ(after.refreshToken->ciphertext, untouched.refreshToken->ciphertext);
    EXPECT_EQ(after.version, untouched.version);
    EXPECT_EQ(this->openRefreshToken(TokenCipher::fromSpec(kKeyNew), fine), refreshPlaintext(fine));
}

TYPED_TEST(StoreRekeyTest, ARefreshTokenWhoseOrganizationIsRefreshingIsLeftBusyAndTakenByTheNextRun) {
    const TokenCipher before = TokenCipher::fromSpec(kKeyOld);
    const TokenCipher rotating = TokenCipher::fromSpec(kKeyNew + "," + kKeyOld);
    const std::int64_t refreshing = this->connectedOrganization(before);
    const std::int64_t idle = this->connectedOrganization(before);
    ASSERT_TRUE(this->store().tryAcquireRefreshLease(refreshing, "refresher", std::chrono::seconds(60)));

    std::ostringstream report;
    const StoreRekey::Summary summary = this->rekey(rotating, 500, report, nullptr, 2);
    EXPECT_EQ(summary.line(), "rewritten 1, already current 0, skipped 0, busy 1, failed 0");
    EXPECT_EQ(summary.exitCode(), 3);
    EXPECT_EQ(this->store().loadConnection(refreshing).refreshToken->keyId, "old");
    EXPECT_EQ(this->store().loadConnection(idle).refreshToken->keyId, "new");

    this->store().releaseRefreshLease(refreshing, "refresher");
    const StoreRekey::Summary next = this->rekey(rotating, 500, report);
    EXPECT_EQ(next.line(), "rewritten 1, already current 1, skipped 0, busy 0, failed 0");
    EXPECT_EQ(next.exitCode(), 0);
    EXPECT_EQ(this->openRefreshToken(TokenCipher::fromSpec(kKeyNew), refreshing), refreshPlaintext(refreshing));
}

// A refresher that rotates tokens the way the broker does (lease, read, present, commit on the presented
// ciphertext) while the rekey runs: every refresh commits, and no rotated token is ever overwritten.
TYPED_TEST(StoreRekeyTest, RefreshesRotatingTokensWhileTheRekeyRunsAllCommitAndNoneIsOverwritten) {
    constexpr int kOrganizations = 120;
    const TokenCipher before = TokenCipher::fromSpec(kKeyOld);
    const TokenCipher rotating = TokenCipher::fromSpec(kKeyNew + "," + kKeyOld);
    std::vector<std::int64_t> orgs;
    for (int i = 0; i < kOrganizations; ++i) orgs.push_back(this->connectedOrganization(before));
    std::map<std::int64_t, std::string> expected;
    for (const std::int64_t orgId : orgs) expected[orgId] = refreshPlaintext(orgId);

    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::atomic<int> refused{0};
    std::thread refresher([&] {
        std::mt19937 random(7);
        for (int round = 0; !stop; ++round) {
            const std::int64_t orgId = orgs[random() % orgs.size()];
            const std::string owner = "refresher#" + std::to_string(round);
            if (!this->store().tryAcquireRefreshLease(orgId, owner, std::chrono::seconds(30))) continue;
            const Connection connection = this->store().loadConnection(orgId);
            const std::string presented =
                rotating.open(*connection.refreshToken, Connectivity::refreshTokenAssociatedData(orgId));
            std::this_thread::sleep_for(1ms);  // Salesforce answering
            const std::string minted = presented + "+";
            RefreshOutcome outcome;
            outcome.orgId = orgId;
            outcome.leaseOwner = owner;
            outcome.presentedRefreshCiphertext = connection.refreshToken->ciphertext;
            outcome.rotatedRefreshToken = rotating.seal(minted, Connectivity::refreshTokenAssociatedData(orgId));
            outcome.accessToken = StoredAccessToken{
                rotating.seal("access", accessTokenAssociatedData(orgId, kInstanceUrl, 1'900'000'000)), kInstanceUrl,
                1'900'000'000};
            outcome.refreshedAt = 1'800'000'000;
            if (this->store().commitRefresh(outcome)) {
                expected[orgId] = minted;
                ++committed;
            } else {
                ++refused;
            }
            this->store().releaseRefreshLease(orgId, owner);
        }
    });
    // Runs that take every value back and forth between the two keys while the refresher goes on (it seals its
    // rotations under the new key), until the refresher committed enough alongside them; bounded in time.
    const TokenCipher backwards = TokenCipher::fromSpec(kKeyOld + "," + kKeyNew);
    std::ostringstream report;
    std::int64_t failedBatches = 0;
    int runs = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((runs < 4 || committed < 30) && std::chrono::steady_clock::now() < deadline) {
        failedBatches += this->rekey(runs % 2 == 0 ? rotating : backwards, 7, report, nullptr, 2).failed;
        ++runs;
    }
    stop = true;
    refresher.join();

    EXPECT_GE(committed.load(), 30) << "the refresher did run alongside " << runs << " runs";
    EXPECT_EQ(refused.load(), 0) << "a rekey made a refresh lose its commit";
    EXPECT_EQ(failedBatches, 0);
    EXPECT_EQ(report.str(), "");
    const StoreRekey::Summary last = this->rekey(rotating, 7, report);
    EXPECT_EQ(last.exitCode(), 0) << last.line();
    EXPECT_EQ(this->store().countSealedNotUnder(SealedColumn::RefreshToken, "new"), 0);
    const TokenCipher after = TokenCipher::fromSpec(kKeyNew);
    for (const std::int64_t orgId : orgs) {
        EXPECT_EQ(this->openRefreshToken(after, orgId), expected[orgId]) << "organization " << orgId;
    }
}

TYPED_TEST(StoreRekeyTest, AStoreFailureEndsTheRunWithExitOneAndARerunFinishes) {
    const TokenCipher before = TokenCipher::fromSpec(kKeyOld);
    const TokenCipher rotating = TokenCipher::fromSpec(kKeyNew + "," + kKeyOld);
    for (int i = 0; i < 3; ++i) this->connectedOrganization(before);

    std::ostringstream report;
    StoreRekey::Summary failed;
    {
        this->backend_.interrupt(this->dsn_);
        failed = this->rekey(rotating, 500, report);
        this->backend_.restore();
    }
    EXPECT_EQ(failed.exitCode(), 1) << failed.line();
    EXPECT_FALSE(failed.failure.empty());
    EXPECT_EQ(failed.rewritten, 0);
    if constexpr (TypeParam::kOutageStopsReads) {
        EXPECT_EQ(failed.failed, 0) << "nothing was read, so no batch failed";
    } else {
        EXPECT_EQ(failed.failed, 3) << "the batch whose write failed";
    }
    EXPECT_EQ(this->store().countSealedNotUnder(SealedColumn::RefreshToken, "new"), 3);

    const StoreRekey::Summary rerun = this->rekey(rotating, 500, report);
    EXPECT_EQ(rerun.line(), "rewritten 3, already current 0, skipped 0, busy 0, failed 0");
    EXPECT_EQ(rerun.exitCode(), 0);
}

}  // namespace
}  // namespace bridge::storetest
