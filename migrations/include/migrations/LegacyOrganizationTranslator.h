#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/Model.h"
#include "bridge/store/Store.h"
#include "migrations/LegacyRows.h"
#include "migrations/LegacyTokenDecryptor.h"

namespace bridge::migrations {

struct TranslatedOrganization {
    std::optional<MigratedOrganization> migrated;  // nullopt: nothing of the organization migrates
    // The report lines of OPERATIONS.md ("skipped organization <id>: ...", "skipped connection of ...",
    // "skipped user ..."), one per row that does not migrate.
    std::vector<std::string> skipped;
    // Values that migrate as absent because they cannot be read (a malformed Salesforce id, an unknown
    // environment letter); for the log.
    std::vector<std::string> warnings;
};

// What one legacy organization becomes in the store, by the rules of OPERATIONS.md ("The migrator's promises").
// No I/O: the migrator writes what this returns, and --verify compares the store with it.
class LegacyOrganizationTranslator {
public:
    // `migratedAt` stamps the `migrated` events.
    LegacyOrganizationTranslator(const LegacyTokenDecryptor& decryptor, const TokenCipher& cipher,
                                 UnixSeconds migratedAt);

    // The rows' texts are moved into what it returns.
    TranslatedOrganization translate(LegacyOrganization&& legacy) const;
    TranslatedOrganization translate(const LegacyOrganization& legacy) const {
        return translate(LegacyOrganization(legacy));
    }

    // "skipped organization <id>: orphan: ..." for rows whose organization does not exist.
    static std::string orphanLine(const LegacyOrphan& orphan);
    // "not found organization <id>: ..." for a staged run's selected id that no legacy row has.
    static std::string notFoundLine(std::int64_t orgId);

    // The associated data a migrated refresh token is sealed with.
    static std::string refreshTokenAssociatedData(std::int64_t orgId);

private:
    struct ConnectionOutcome {
        Connection connection;
        std::optional<std::string> skipReason;
        std::string fingerprintTag;  // what was decided, so that a rerun with other keys is not "already current"
    };

    ConnectionOutcome translateConnection(const LegacyConnectivityRow& row, std::vector<std::string>& warnings) const;

    const LegacyTokenDecryptor& decryptor_;
    const TokenCipher& cipher_;
    UnixSeconds migratedAt_;
};

}  // namespace bridge::migrations
