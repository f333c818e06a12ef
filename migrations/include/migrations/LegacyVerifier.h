#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <string>

#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/Store.h"
#include "migrations/LegacyOrganizationTranslator.h"
#include "migrations/LegacyReader.h"
#include "migrations/MigrationProgress.h"

namespace bridge::migrations {

struct VerificationSummary {
    std::int64_t organizations = 0;
    std::int64_t differences = 0;
    std::optional<std::string> abortedBecause;

    // "verified <n> organizations, differences <n>"
    std::string line() const;
    // OPERATIONS.md: 0 the store holds exactly what a migration gives, 1 differences (or it could not finish).
    int exitCode() const;
};

// `bridge migrate --verify`: what a migration of the legacy database gives, compared through the store's reads
// with what the store holds; one line per difference on `report`, nothing written anywhere. Rows a migration
// reports as skipped are no difference; neither are what the server owns: organizations and users at or above
// ids.firstNewLegacyId and connections the server changed after the migration. Tokens are compared opened,
// and never printed. With a reader of a selection (a staged run's), only the selected organizations are compared:
// a selected id that the legacy database lacks is a difference if the store holds it, the store's other
// organizations are not looked at.
class LegacyVerifier {
public:
    LegacyVerifier(Store& store, const LegacyOrganizationTranslator& translator, const TokenCipher& cipher,
                   std::int64_t firstNewLegacyId, std::ostream& report);

    VerificationSummary run(LegacyReader& reader, MigrationProgress& progress);

private:
    void verify(const LegacyOrganization& legacy, VerificationSummary& summary);
    // A selected id that a migration gives nothing for (an orphan, or not found): a difference if the store holds
    // it.
    void verifyAbsent(std::int64_t orgId, VerificationSummary& summary);
    std::map<std::int64_t, User> usersOf(std::int64_t orgId);
    // Whether the migrator reports the organization as a conflict: one of its users' ids held by another
    // organization, or one of their emails taken in it by a user a migration does not give.
    bool heldElsewhere(const MigratedOrganization& expected, const std::map<std::int64_t, User>& storedUsers);
    void compareUsers(const MigratedOrganization& expected, std::map<std::int64_t, User> stored,
                      VerificationSummary& summary);
    void compareConnection(const MigratedOrganization& expected, VerificationSummary& summary);
    // Store organizations below `legacyId` that no legacy row explains.
    void reportStoreOnlyBefore(std::int64_t legacyId, VerificationSummary& summary);
    void difference(const std::string& subject, const std::string& what, VerificationSummary& summary);
    // A difference when the store's value (as text) is not the one a migration gives.
    void compareField(const std::string& subject, const std::string& name, const std::string& storeValue,
                      const std::string& wanted, VerificationSummary& summary);

    Store& store_;
    const LegacyOrganizationTranslator& translator_;
    const TokenCipher& cipher_;
    std::int64_t firstNewLegacyId_;
    std::ostream& report_;
    std::deque<Organization> storeAhead_;  // the store's organizations, read in id order alongside the legacy ones
    std::int64_t storeReadAfter_ = 0;
    bool storeExhausted_ = false;
    bool wholeDatabase_ = true;  // false: the reader reads a selection
};

}  // namespace bridge::migrations
