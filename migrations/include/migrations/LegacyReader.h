#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "migrations/LegacyRows.h"
#include "migrations/MySqlDsn.h"

namespace sql {
class PreparedStatement;
}

namespace bridge::migrations {

// Reads the legacy database in one read-only transaction over a consistent snapshot, so that every batch sees
// the database as it was at the start, and nothing can be written even if the configured user could. Streams:
// what it holds at once is one batch, whatever the database's size. Throws sql::SQLException when the database
// fails.
class LegacyReader {
public:
    LegacyReader(const MySqlDsn& dsn, int batchSize);
    ~LegacyReader();
    LegacyReader(const LegacyReader&) = delete;
    LegacyReader& operator=(const LegacyReader&) = delete;

    // Organizations rows, soft-deleted ones included.
    std::int64_t countOrganizations();

    // The next batchSize organizations by id, each with its connectivity row and users; empty at the end.
    std::vector<LegacyOrganization> nextOrganizations();

    // The next batchSize orphan ids by id (connectivity rows and users with no organizations row); empty at
    // the end. Independent of nextOrganizations().
    std::vector<LegacyOrphan> nextOrphans();

private:
    std::unique_ptr<sql::Connection> connection_;
    int batchSize_;
    std::int64_t lastOrganizationId_ = 0;
    std::int64_t lastOrphanId_ = 0;
    std::unique_ptr<sql::PreparedStatement> organizationsAfter_;
    std::unique_ptr<sql::PreparedStatement> connectivityBetween_;
    std::unique_ptr<sql::PreparedStatement> usersBetween_;
    std::unique_ptr<sql::PreparedStatement> orphanConnectivityAfter_;
    std::unique_ptr<sql::PreparedStatement> orphanUsersAfter_;
};

}  // namespace bridge::migrations
