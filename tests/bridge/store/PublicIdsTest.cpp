#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bridge/store/PublicIds.h"

namespace bridge {
namespace {

TEST(PublicIdsTest, EveryIdDecodesToTheLegacyIdItWasMadeFrom) {
    for (const std::int64_t legacyId : {std::int64_t{0}, std::int64_t{1}, std::int64_t{77}, std::int64_t{1042},
                                        std::int64_t{1'000'000'000}, std::numeric_limits<std::int64_t>::max()}) {
        EXPECT_EQ(legacyOrgIdOf(profileIdFor(legacyId)), legacyId);
        EXPECT_EQ(legacyUserIdOf(userIdFor(legacyId)), legacyId);
    }
}

// Ids handed out must never change: these are the ones the first release gives (the demo's organization 1042 and
// user 77). A change of key, tag or byte order fails here.
TEST(PublicIdsTest, TheEncodingIsPinned) {
    EXPECT_EQ(profileIdFor(1042), "prf_4fdd207e9047da43f93b64854d24d28b");
    EXPECT_EQ(userIdFor(77), "usr_f37ec5b31ac7c346189a691dcab672a5");
}

TEST(PublicIdsTest, NegativeIdsRoundTripToo) {
    EXPECT_EQ(legacyOrgIdOf(profileIdFor(-1)), -1);
    EXPECT_EQ(legacyUserIdOf(userIdFor(std::numeric_limits<std::int64_t>::min())),
              std::numeric_limits<std::int64_t>::min());
}

TEST(PublicIdsTest, ThreadsEncodeAndDecodeAtOnceWithTheirOwnContexts) {
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int thread = 0; thread < 4; ++thread) {
        threads.emplace_back([thread, &mismatches] {
            for (std::int64_t legacyId = thread * 10'000; legacyId < (thread + 1) * 10'000; ++legacyId) {
                if (legacyUserIdOf(userIdFor(legacyId)) != legacyId) ++mismatches;
                if (legacyOrgIdOf(profileIdFor(legacyId)) != legacyId) ++mismatches;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(PublicIdsTest, IdsHaveTheirKindsPrefixAndThirtyTwoLowerCaseHexDigits) {
    const std::string profile = profileIdFor(1042);
    const std::string user = userIdFor(77);
    EXPECT_EQ(profile.substr(0, 4), "prf_");
    EXPECT_EQ(user.substr(0, 4), "usr_");
    for (const std::string& id : {profile, user}) {
        ASSERT_EQ(id.size(), 36u) << id;
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos) << id;
    }
}

TEST(PublicIdsTest, TheSameLegacyIdAlwaysGivesTheSameIdAndNeighboursLookUnrelated) {
    EXPECT_EQ(profileIdFor(1042), profileIdFor(1042));
    EXPECT_EQ(userIdFor(77), userIdFor(77));
    // Opaque: consecutive legacy ids share no long common prefix after the kind.
    const std::string first = userIdFor(77);
    const std::string next = userIdFor(78);
    EXPECT_NE(first.substr(4, 8), next.substr(4, 8));
    std::set<std::string> distinct;
    for (std::int64_t legacyId = 1; legacyId <= 10'000; ++legacyId) distinct.insert(userIdFor(legacyId));
    EXPECT_EQ(distinct.size(), 10'000u);
}

TEST(PublicIdsTest, OneKindNeverDecodesAsTheOther) {
    EXPECT_FALSE(legacyUserIdOf(profileIdFor(1042)));
    EXPECT_FALSE(legacyOrgIdOf(userIdFor(1042)));
    // The same hex digits under the other kind's prefix.
    EXPECT_FALSE(legacyUserIdOf("usr_" + profileIdFor(1042).substr(4)));
    EXPECT_FALSE(legacyOrgIdOf("prf_" + userIdFor(77).substr(4)));
}

TEST(PublicIdsTest, AnythingNotGivenOutDecodesToNothing) {
    const std::string id = userIdFor(77);
    std::string altered = id;
    altered[10] = altered[10] == 'a' ? 'b' : 'a';
    std::string upper = id;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    upper.replace(0, 4, "usr_");
    for (const std::string& bad :
         {altered, id.substr(0, 35), id + "0", upper, std::string("usr_"), std::string(""), std::string("77"),
          std::string("usr_77"), "usr_" + std::string(32, 'g'), "usr-" + id.substr(4), "usr_" + std::string(32, '0')}) {
        EXPECT_FALSE(legacyUserIdOf(bad)) << bad;
    }
}

}  // namespace
}  // namespace bridge
