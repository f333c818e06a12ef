#include "migrations/LegacyReader.h"

#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

namespace bridge::migrations {

namespace {

// The queries, with "{}" for integers. DATETIME and TIMESTAMP as the legacy panel wrote them; TIMESTAMP is read in
// UTC (see the session's time_zone). Users in id order: the organization index gives them so without a sort.
constexpr const char* kOrganizationsAfter =
    "SELECT id, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), is_deleted FROM organizations "
    "WHERE id > {} ORDER BY id LIMIT {}";
constexpr const char* kConnectivityBetween =
    "SELECT org_id, sa_login_enabled, auth_method, sf_environment, sa_user_id, sa_username, sf_org_id, "
    "instance_url, refresh_token_enc, status, DATE_FORMAT(status_changed_at, '%Y-%m-%d %H:%i:%s'), last_error, "
    "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') FROM org_salesforce_connectivity "
    "WHERE org_id BETWEEN {} AND {}";
constexpr const char* kUsersBetween =
    "SELECT id, org_id, email, display_name, sf_user_id, is_active, sync_state, sync_error FROM org_users "
    "WHERE org_id BETWEEN {} AND {} ORDER BY org_id, id";
constexpr const char* kOrphanConnectivityAfter =
    "SELECT c.org_id FROM org_salesforce_connectivity c LEFT JOIN organizations o ON o.id = c.org_id "
    "WHERE o.id IS NULL AND c.org_id > {} ORDER BY c.org_id LIMIT {}";
constexpr const char* kOrphanUsersAfter =
    "SELECT u.org_id, COUNT(*) FROM org_users u LEFT JOIN organizations o ON o.id = u.org_id "
    "WHERE o.id IS NULL AND u.org_id > {} GROUP BY u.org_id ORDER BY u.org_id LIMIT {}";

// The query with its two "{}" replaced by the integers; integers only, so nothing needs quoting.
std::string withIntegers(const char* query, std::int64_t first, std::int64_t second) {
    std::string sql = query;
    for (const std::int64_t value : {first, second}) {
        const auto at = sql.find("{}");
        sql.replace(at, 2, std::to_string(value));
    }
    return sql;
}

std::optional<std::string> optionalString(sql::ResultSet& rows, int column) {
    if (rows.isNull(column)) return std::nullopt;
    return std::string(rows.getString(column));
}

void execute(sql::Connection& connection, const char* statement) {
    std::unique_ptr<sql::Statement>(connection.createStatement())->execute(statement);
}

LegacyConnectivityRow readConnectivity(sql::ResultSet& rows) {
    LegacyConnectivityRow row;
    row.orgId = static_cast<std::int64_t>(rows.getUInt64(1));
    row.serviceAccountLoginEnabled = rows.getInt(2) != 0;
    row.authMethod = rows.getString(3);
    row.environment = optionalString(rows, 4);
    row.serviceAccountUserId = optionalString(rows, 5);
    row.serviceAccountUsername = optionalString(rows, 6);
    row.salesforceOrgId = optionalString(rows, 7);
    row.instanceUrl = optionalString(rows, 8);
    row.refreshTokenEncrypted = optionalString(rows, 9);
    row.status = rows.getInt(10);
    row.statusChangedAt = optionalString(rows, 11);
    row.lastError = optionalString(rows, 12);
    row.updatedAt = rows.getString(13);
    return row;
}

LegacyUserRow readUser(sql::ResultSet& rows) {
    LegacyUserRow row;
    row.id = static_cast<std::int64_t>(rows.getUInt64(1));
    row.orgId = static_cast<std::int64_t>(rows.getUInt64(2));
    row.email = rows.getString(3);
    row.displayName = optionalString(rows, 4);
    row.salesforceUserId = optionalString(rows, 5);
    row.active = rows.getInt(6) != 0;
    row.syncState = rows.getString(7);
    row.syncError = optionalString(rows, 8);
    return row;
}

}  // namespace

LegacyReader::LegacyReader(const MySqlDsn& dsn, int batchSize) : connection_(dsn.connect()), batchSize_(batchSize) {
    if (batchSize_ < 1) throw std::invalid_argument("LegacyReader: the batch size must be at least 1");
    execute(*connection_, "SET SESSION time_zone = '+00:00'");
    execute(*connection_, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    execute(*connection_, "SET SESSION TRANSACTION READ ONLY");
    execute(*connection_, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
    // Forward only: rows stream in while they are decoded instead of the whole result arriving first, so that the
    // server finds the next rows meanwhile (prepared statements cannot stream in this connector). Each result is
    // read to its end before the next query: a streaming result holds the connection.
    streaming_.reset(connection_->createStatement());
    streaming_->setResultSetType(sql::ResultSet::TYPE_FORWARD_ONLY);
}

std::unique_ptr<sql::ResultSet> LegacyReader::stream(const char* query, std::int64_t first, std::int64_t second) {
    return std::unique_ptr<sql::ResultSet>(streaming_->executeQuery(withIntegers(query, first, second)));
}

// The transaction only read; ending it with the connection is all the cleanup there is.
LegacyReader::~LegacyReader() = default;

std::int64_t LegacyReader::countOrganizations() {
    std::unique_ptr<sql::Statement> statement(connection_->createStatement());
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery("SELECT COUNT(*) FROM organizations"));
    rows->next();
    return rows->getInt64(1);
}

std::vector<LegacyOrganization> LegacyReader::nextOrganizations() {
    std::vector<LegacyOrganization> batch;
    for (auto rows = stream(kOrganizationsAfter, lastOrganizationId_, batchSize_); rows->next();) {
        LegacyOrganization organization;
        organization.row.id = static_cast<std::int64_t>(rows->getUInt64(1));
        organization.row.name = rows->getString(2);
        organization.row.createdAt = rows->getString(3);
        organization.row.deleted = rows->getInt(4) != 0;
        batch.push_back(std::move(organization));
    }
    if (batch.empty()) return batch;
    const std::int64_t first = batch.front().row.id;
    const std::int64_t last = batch.back().row.id;
    lastOrganizationId_ = last;

    // Batches are in id order, so a row's organization is found by binary search; rows of ids between
    // organizations are orphans, which nextOrphans() reports.
    const auto find = [&batch](std::int64_t orgId) -> LegacyOrganization* {
        auto found = std::lower_bound(batch.begin(), batch.end(), orgId,
                                      [](const LegacyOrganization& o, std::int64_t id) { return o.row.id < id; });
        return found != batch.end() && found->row.id == orgId ? &*found : nullptr;
    };
    for (auto rows = stream(kConnectivityBetween, first, last); rows->next();) {
        auto row = readConnectivity(*rows);
        if (auto* organization = find(row.orgId)) organization->connectivity = std::move(row);
    }
    for (auto rows = stream(kUsersBetween, first, last); rows->next();) {
        auto row = readUser(*rows);
        if (auto* organization = find(row.orgId)) organization->users.push_back(std::move(row));
    }
    return batch;
}

std::vector<LegacyOrphan> LegacyReader::nextOrphans() {
    // Two independently paged lists merged: a full page ends where its last id is, and only ids up to the
    // smaller such end are complete in both.
    std::map<std::int64_t, LegacyOrphan> merged;
    std::int64_t completeUpTo = std::numeric_limits<std::int64_t>::max();

    int count = 0;
    std::int64_t lastId = 0;
    for (auto rows = stream(kOrphanConnectivityAfter, lastOrphanId_, batchSize_); rows->next(); ++count) {
        lastId = static_cast<std::int64_t>(rows->getUInt64(1));
        merged[lastId].orgId = lastId;
        merged[lastId].connectivityRow = true;
    }
    if (count == batchSize_) completeUpTo = std::min(completeUpTo, lastId);

    count = 0;
    for (auto rows = stream(kOrphanUsersAfter, lastOrphanId_, batchSize_); rows->next(); ++count) {
        lastId = static_cast<std::int64_t>(rows->getUInt64(1));
        merged[lastId].orgId = lastId;
        merged[lastId].users = rows->getInt64(2);
    }
    if (count == batchSize_) completeUpTo = std::min(completeUpTo, lastId);

    std::vector<LegacyOrphan> orphans;
    for (const auto& [orgId, orphan] : merged) {
        if (orgId > completeUpTo) break;
        orphans.push_back(orphan);
    }
    if (!orphans.empty()) lastOrphanId_ = orphans.back().orgId;
    return orphans;
}

}  // namespace bridge::migrations
