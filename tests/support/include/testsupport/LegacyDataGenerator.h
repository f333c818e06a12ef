#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "testsupport/LegacyDataManifest.h"

namespace sql {
class Connection;
}

namespace bridge::testsupport {

struct LegacyDataSpec {
    std::uint64_t seed = 1;
    std::int64_t organizations = 100;  // organizations rows, soft-deleted ones included
    int usersPerOrganization = 5;      // plus a newer case twin in the organizations that have one
};

// Writes a legacy database like production's, deterministic from the seed, at any size: every kind of dirty row
// of legacy-schema.sql at least once (the first few dozen organizations walk through them all, the rest are
// drawn at production-like rates), tokens under the current and the old legacy key. Bulk inserts, a few
// thousand rows per statement and transaction: 100,000 organizations and 1,000,000 users load in seconds.
class LegacyDataGenerator {
public:
    explicit LegacyDataGenerator(LegacyDataSpec spec);

    // Creates the legacy tables in the connection's database, which must not hold them yet, and fills them.
    LegacyDataManifest generate(sql::Connection& connection) const;

    // The refresh token that organization `orgId`'s decryptable legacy token holds.
    std::string refreshTokenOf(std::int64_t orgId) const;

    // The CREATE TABLE statements of legacy-schema.sql, comments removed.
    static std::vector<std::string> legacySchemaStatements();

private:
    LegacyDataSpec spec_;
};

// CHECKSUM TABLE ... EXTENDED (every row read) of the three legacy tables, as "table=checksum;..." to compare
// before and after a run that must only read them.
std::string legacyTableChecksums(sql::Connection& connection);

}  // namespace bridge::testsupport
