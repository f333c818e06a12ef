#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "migrations/LegacyRows.h"
#include "migrations/MySqlDsn.h"
#include "migrations/OrganizationSelection.h"

namespace sql {
class ResultSet;
class Statement;
}  // namespace sql

namespace bridge::migrations {

// One step of the reading: organizations in id order with their rows, and the orphans in between.
struct LegacyBatch {
    std::vector<LegacyOrganization> organizations;  // by id
    std::vector<LegacyOrphan> orphans;              // by id
    // A staged run's selected ids that no row of the legacy database has (neither an organization nor an orphan).
    std::vector<std::int64_t> notFound;  // ascending

    bool empty() const { return organizations.empty() && orphans.empty() && notFound.empty(); }
};

// Reads the legacy database in one read-only transaction over a consistent snapshot, so that every batch sees
// the database as it was at the start, and nothing can be written even if the configured user could. Streams:
// what it holds at once is one batch, whatever the database's size. Throws sql::SQLException when the database
// fails.
class LegacyReader {
public:
    // With a selection, only the selected organizations are read, with their rows; the selected ids that have rows
    // but no organizations row are its orphans.
    LegacyReader(const MySqlDsn& dsn, int batchSize, std::optional<OrganizationSelection> selection = std::nullopt);
    ~LegacyReader();
    LegacyReader(const LegacyReader&) = delete;
    LegacyReader& operator=(const LegacyReader&) = delete;

    // Organizations rows, soft-deleted ones included (of the selection, if there is one).
    std::int64_t countOrganizations();

    // Whole database: the next batchSize organizations by id, each with its connectivity row and users, and the
    // orphan ids (connectivity rows and users with no organizations row) from the end of the last batch to the end
    // of this one. Once the organizations are all read, batches of orphans only; empty at the end.
    // Selection: the next batchSize selected ids, read the same way, and those of them that are not found.
    LegacyBatch nextBatch();

    bool selective() const { return selection_.has_value(); }

private:
    // The query (a constant of LegacyReader.cpp) with its integers, streaming.
    std::unique_ptr<sql::ResultSet> stream(const char* query, std::initializer_list<std::int64_t> integers);
    std::unique_ptr<sql::ResultSet> stream(const std::string& query);
    LegacyBatch nextSelectedBatch();
    // The connectivity rows and users that the conditions on org_id find, into their organizations of `batch`, or
    // counted as orphans.
    void readRowsOf(std::vector<LegacyOrganization>& batch, const std::vector<std::string>& orgIdConditions,
                    std::map<std::int64_t, LegacyOrphan>& orphans);
    // The users of `batch` (their ids are `wanted`, in any order) into their organizations.
    void readUsers(std::vector<std::int64_t>& wanted, std::vector<LegacyOrganization>& batch);
    // The next batchSize orphan ids after the last organization.
    std::vector<LegacyOrphan> nextOrphansAfterTheLastOrganization();

    std::unique_ptr<sql::Connection> connection_;
    int batchSize_;
    std::int64_t lastOrganizationId_ = 0;
    std::int64_t nextUnreadOrgId_ = 0;  // rows pointing at ids below it were read or reported
    std::optional<OrganizationSelection> selection_;
    std::size_t nextSelected_ = 0;  // index into the selection's ids
    std::unique_ptr<sql::Statement> streaming_;
};

}  // namespace bridge::migrations
