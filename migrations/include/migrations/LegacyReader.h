#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "migrations/LegacyRows.h"
#include "migrations/MySqlDsn.h"

namespace sql {
class ResultSet;
class Statement;
}  // namespace sql

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
    // The query (a constant of LegacyReader.cpp) with its two integers, streaming.
    std::unique_ptr<sql::ResultSet> stream(const char* query, std::int64_t first, std::int64_t second);

    std::unique_ptr<sql::Connection> connection_;
    int batchSize_;
    std::int64_t lastOrganizationId_ = 0;
    std::int64_t lastOrphanId_ = 0;
    std::unique_ptr<sql::Statement> streaming_;
};

}  // namespace bridge::migrations
