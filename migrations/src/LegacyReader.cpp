#include "migrations/LegacyReader.h"

#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>

namespace bridge::migrations {

namespace {

// The queries, with "{}" for integers. DATETIME and TIMESTAMP as the legacy panel wrote them; TIMESTAMP is read in
// UTC (see the session's time_zone). Rows are read by organization id ranges that follow each other without a gap,
// so that a row whose organization is missing (an orphan) is found on the way.
constexpr const char* kOrganizationsAfter =
    "SELECT id, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), is_deleted FROM organizations "
    "WHERE id > {} ORDER BY id LIMIT {}";
// A staged run's: "(" + ids + ")" follows.
constexpr const char* kOrganizationsWithIdIn =
    "SELECT id, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), is_deleted FROM organizations WHERE id IN ";
constexpr const char* kCountOrganizationsWithIdIn = "SELECT COUNT(*) FROM organizations WHERE id IN ";
// A condition on org_id follows.
constexpr const char* kConnectivityWhere =
    "SELECT org_id, sa_login_enabled, auth_method, sf_environment, sa_user_id, sa_username, sf_org_id, "
    "instance_url, refresh_token_enc, status, DATE_FORMAT(status_changed_at, '%Y-%m-%d %H:%i:%s'), last_error, "
    "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') FROM org_salesforce_connectivity WHERE ";
// From the organization index alone: it holds the user ids.
constexpr const char* kUserIdsWhere = "SELECT id, org_id FROM org_users WHERE ";
constexpr const char* kOrgIdBetween = "org_id BETWEEN {} AND {}";
constexpr const char* kUsersWhere =
    "SELECT id, org_id, email, display_name, sf_user_id, is_active, sync_state, sync_error FROM org_users WHERE ";
constexpr const char* kConnectivityIdsFrom =
    "SELECT org_id FROM org_salesforce_connectivity WHERE org_id >= {} ORDER BY org_id LIMIT {}";
constexpr const char* kUserCountsFrom =
    "SELECT org_id, COUNT(*) FROM org_users WHERE org_id >= {} GROUP BY org_id ORDER BY org_id LIMIT {}";

// Users are read by primary key rather than through the organization index, which would cost the server one more
// B-tree descent per user (the rows then take it twice as long to find). An organization's users were mostly
// created together, so a batch's user ids lie in runs: a run is read as one range, skipping the few rows in it
// that belong to other organizations; ids far from any other are read one by one.
constexpr std::int64_t kLargestGapInARun = 32;
// A run is read as a range only if at least half of the rows in it are wanted.
constexpr std::int64_t kMostRowsPerWantedRowInARange = 2;
// Ranges and ids per query: few enough for the server's range optimizer to keep them all (past its memory limit
// it would scan the whole table instead).
constexpr std::size_t kMostTermsPerQuery = 500;

// The query with its "{}" replaced by the integers, in order; integers only, so nothing needs quoting.
std::string withIntegers(const char* query, std::initializer_list<std::int64_t> integers) {
    std::string sql = query;
    for (const std::int64_t value : integers) {
        const auto at = sql.find("{}");
        sql.replace(at, 2, std::to_string(value));
    }
    return sql;
}

// The WHERE conditions that read the rows of the wanted ids (sorted, unique), each of at most kMostTermsPerQuery
// ranges and single ids.
std::vector<std::string> conditionsReading(const std::vector<std::int64_t>& wanted) {
    std::vector<std::string> conditions;
    std::string ranges;
    std::string singles;
    std::size_t terms = 0;
    const auto flush = [&] {
        if (terms == 0) return;
        std::string condition = ranges;
        if (!singles.empty()) condition += (condition.empty() ? "" : " OR ") + ("id IN (" + singles + ")");
        conditions.push_back(std::move(condition));
        ranges.clear();
        singles.clear();
        terms = 0;
    };
    for (std::size_t first = 0; first < wanted.size();) {
        std::size_t last = first;
        while (last + 1 < wanted.size() && wanted[last + 1] - wanted[last] <= kLargestGapInARun) ++last;
        const auto count = static_cast<std::int64_t>(last - first + 1);
        if (count > 1 && wanted[last] - wanted[first] + 1 <= kMostRowsPerWantedRowInARange * count) {
            // Appended, not `(sep) + std::to_string(...)`: g++ 12 at -O3 reports a false -Wrestrict inside
            // operator+(const char*, std::string&&) (GCC bug 105329).
            if (!ranges.empty()) ranges += " OR ";
            ranges.append("id BETWEEN ").append(std::to_string(wanted[first]));
            ranges.append(" AND ").append(std::to_string(wanted[last]));
            if (++terms == kMostTermsPerQuery) flush();
        } else {
            for (std::size_t i = first; i <= last; ++i) {
                if (!singles.empty()) singles += ',';
                singles += std::to_string(wanted[i]);
                if (++terms == kMostTermsPerQuery) flush();
            }
        }
        first = last + 1;
    }
    flush();
    return conditions;
}

// "(1042,1043,...)": the ids, at most kMostTermsPerQuery per list. They come from an OrganizationSelection, whose
// every id was parsed as digits only into an integer: written back as integers, nothing in them needs quoting.
std::vector<std::string> idLists(std::span<const std::int64_t> ids) {
    std::vector<std::string> lists;
    for (std::size_t first = 0; first < ids.size(); first += kMostTermsPerQuery) {
        std::string list = "(";
        for (std::size_t i = first; i < std::min(ids.size(), first + kMostTermsPerQuery); ++i) {
            if (i > first) list += ',';
            list += std::to_string(ids[i]);
        }
        list += ')';
        lists.push_back(std::move(list));
    }
    return lists;
}

// Connector/C++ hands a text over in an SQLString, which holds a std::string: it is moved out rather than copied (a
// million users' emails and ids are a million allocations and copies less).
std::string text(sql::ResultSet& rows, int column) {
    sql::SQLString value = rows.getString(column);
    return std::move(*value.operator->());
}

std::optional<std::string> optionalText(sql::ResultSet& rows, int column) {
    std::string value = text(rows, column);
    if (rows.wasNull()) return std::nullopt;
    return value;
}

// The organization of a batch (in id order) with that id, found by binary search; nullptr if the batch has none.
LegacyOrganization* organizationWithId(std::vector<LegacyOrganization>& batch, std::int64_t orgId) {
    const auto found = std::lower_bound(batch.begin(), batch.end(), orgId,
                                        [](const LegacyOrganization& o, std::int64_t id) { return o.row.id < id; });
    return found != batch.end() && found->row.id == orgId ? &*found : nullptr;
}

void execute(sql::Connection& connection, const char* statement) {
    std::unique_ptr<sql::Statement>(connection.createStatement())->execute(statement);
}

LegacyOrganization readOrganization(sql::ResultSet& rows) {
    LegacyOrganization organization;
    organization.row.id = static_cast<std::int64_t>(rows.getUInt64(1));
    organization.row.name = text(rows, 2);
    organization.row.createdAt = text(rows, 3);
    organization.row.deleted = rows.getInt(4) != 0;
    return organization;
}

LegacyConnectivityRow readConnectivity(sql::ResultSet& rows) {
    LegacyConnectivityRow row;
    row.orgId = static_cast<std::int64_t>(rows.getUInt64(1));
    row.serviceAccountLoginEnabled = rows.getInt(2) != 0;
    row.authMethod = text(rows, 3);
    row.environment = optionalText(rows, 4);
    row.serviceAccountUserId = optionalText(rows, 5);
    row.serviceAccountUsername = optionalText(rows, 6);
    row.salesforceOrgId = optionalText(rows, 7);
    row.instanceUrl = optionalText(rows, 8);
    row.refreshTokenEncrypted = optionalText(rows, 9);
    row.status = rows.getInt(10);
    row.statusChangedAt = optionalText(rows, 11);
    row.lastError = optionalText(rows, 12);
    row.updatedAt = text(rows, 13);
    return row;
}

// The row's org_id (column 2) is the caller's: it has read it already to find the organization.
LegacyUserRow readUser(sql::ResultSet& rows, std::int64_t orgId) {
    LegacyUserRow row;
    row.id = static_cast<std::int64_t>(rows.getUInt64(1));
    row.orgId = orgId;
    row.email = text(rows, 3);
    row.displayName = optionalText(rows, 4);
    row.salesforceUserId = optionalText(rows, 5);
    row.active = rows.getInt(6) != 0;
    row.syncState = text(rows, 7);
    row.syncError = optionalText(rows, 8);
    return row;
}

}  // namespace

LegacyReader::LegacyReader(const MySqlDsn& dsn, int batchSize, std::optional<OrganizationSelection> selection)
    : connection_(dsn.connect()), batchSize_(batchSize), selection_(std::move(selection)) {
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

std::unique_ptr<sql::ResultSet> LegacyReader::stream(const char* query, std::initializer_list<std::int64_t> integers) {
    return stream(withIntegers(query, integers));
}

std::unique_ptr<sql::ResultSet> LegacyReader::stream(const std::string& query) {
    return std::unique_ptr<sql::ResultSet>(streaming_->executeQuery(query));
}

// The transaction only read; ending it with the connection is all the cleanup there is.
LegacyReader::~LegacyReader() = default;

std::int64_t LegacyReader::countOrganizations() {
    std::unique_ptr<sql::Statement> statement(connection_->createStatement());
    if (!selection_) {
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery("SELECT COUNT(*) FROM organizations"));
        rows->next();
        return rows->getInt64(1);
    }
    std::int64_t count = 0;
    for (const auto& list : idLists(selection_->ids())) {
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(kCountOrganizationsWithIdIn + list));
        rows->next();
        count += rows->getInt64(1);
    }
    return count;
}

LegacyBatch LegacyReader::nextBatch() {
    if (selection_) return nextSelectedBatch();
    LegacyBatch batch;
    auto& organizations = batch.organizations;
    organizations.reserve(static_cast<std::size_t>(batchSize_));
    for (auto rows = stream(kOrganizationsAfter, {lastOrganizationId_, batchSize_}); rows->next();) {
        organizations.push_back(readOrganization(*rows));
    }
    if (organizations.empty()) {
        batch.orphans = nextOrphansAfterTheLastOrganization();
        return batch;
    }
    // Every row pointing at an id from the end of the last batch to the end of this one: the batch's own, and
    // orphans.
    const std::int64_t first = nextUnreadOrgId_;
    const std::int64_t last = organizations.back().row.id;
    lastOrganizationId_ = last;
    nextUnreadOrgId_ = last + 1;

    std::map<std::int64_t, LegacyOrphan> orphans;
    readRowsOf(organizations, {withIntegers(kOrgIdBetween, {first, last})}, orphans);
    for (auto& [orgId, orphan] : orphans) {
        orphan.orgId = orgId;
        batch.orphans.push_back(orphan);
    }
    return batch;
}

LegacyBatch LegacyReader::nextSelectedBatch() {
    LegacyBatch batch;
    const auto& ids = selection_->ids();
    const std::size_t end = std::min(ids.size(), nextSelected_ + static_cast<std::size_t>(batchSize_));
    const std::span<const std::int64_t> chosen(ids.data() + nextSelected_, end - nextSelected_);
    nextSelected_ = end;
    if (chosen.empty()) return batch;

    const auto lists = idLists(chosen);
    auto& organizations = batch.organizations;
    // The lists ascend, and so does each one's result: the batch is in id order.
    for (const auto& list : lists) {
        for (auto rows = stream(kOrganizationsWithIdIn + list + " ORDER BY id"); rows->next();) {
            organizations.push_back(readOrganization(*rows));
        }
    }
    std::vector<std::string> conditions;
    for (const auto& list : lists) conditions.push_back("org_id IN " + list);
    std::map<std::int64_t, LegacyOrphan> orphans;
    readRowsOf(organizations, conditions, orphans);
    for (auto& [orgId, orphan] : orphans) {
        orphan.orgId = orgId;
        batch.orphans.push_back(orphan);
    }
    for (const auto id : chosen) {
        if (organizationWithId(organizations, id) == nullptr && !orphans.contains(id)) batch.notFound.push_back(id);
    }
    return batch;
}

void LegacyReader::readRowsOf(std::vector<LegacyOrganization>& organizations,
                              const std::vector<std::string>& orgIdConditions,
                              std::map<std::int64_t, LegacyOrphan>& orphans) {
    for (const auto& condition : orgIdConditions) {
        for (auto rows = stream(kConnectivityWhere + condition); rows->next();) {
            auto row = readConnectivity(*rows);
            if (auto* organization = organizationWithId(organizations, row.orgId)) {
                organization->connectivity = std::move(row);
            } else {
                orphans[row.orgId].connectivityRow = true;
            }
        }
    }
    std::vector<std::int64_t> wanted;
    std::vector<std::size_t> usersOf(organizations.size(), 0);
    for (const auto& condition : orgIdConditions) {
        for (auto rows = stream(kUserIdsWhere + condition); rows->next();) {
            const auto orgId = static_cast<std::int64_t>(rows->getUInt64(2));
            if (const auto* organization = organizationWithId(organizations, orgId)) {
                wanted.push_back(static_cast<std::int64_t>(rows->getUInt64(1)));
                ++usersOf[static_cast<std::size_t>(organization - organizations.data())];
            } else {
                ++orphans[orgId].users;
            }
        }
    }
    for (std::size_t i = 0; i < organizations.size(); ++i) organizations[i].users.reserve(usersOf[i]);
    readUsers(wanted, organizations);
}

void LegacyReader::readUsers(std::vector<std::int64_t>& wanted, std::vector<LegacyOrganization>& batch) {
    std::sort(wanted.begin(), wanted.end());
    // Ids in increasing order, and the rows of each query in primary-key order: every organization's users come
    // in id order.
    for (const auto& condition : conditionsReading(wanted)) {
        for (auto rows = std::unique_ptr<sql::ResultSet>(streaming_->executeQuery(kUsersWhere + condition));
             rows->next();) {
            // A range also holds rows of other organizations' users, between the wanted ones.
            const auto orgId = static_cast<std::int64_t>(rows->getUInt64(2));
            if (auto* organization = organizationWithId(batch, orgId)) {
                organization->users.push_back(readUser(*rows, orgId));
            }
        }
    }
}

std::vector<LegacyOrphan> LegacyReader::nextOrphansAfterTheLastOrganization() {
    // Two independently paged lists merged: a full page ends where its last id is, and only ids up to the
    // smaller such end are complete in both.
    std::map<std::int64_t, LegacyOrphan> merged;
    std::int64_t completeUpTo = std::numeric_limits<std::int64_t>::max();

    int count = 0;
    std::int64_t lastId = 0;
    for (auto rows = stream(kConnectivityIdsFrom, {nextUnreadOrgId_, batchSize_}); rows->next(); ++count) {
        lastId = static_cast<std::int64_t>(rows->getUInt64(1));
        merged[lastId].orgId = lastId;
        merged[lastId].connectivityRow = true;
    }
    if (count == batchSize_) completeUpTo = std::min(completeUpTo, lastId);

    count = 0;
    for (auto rows = stream(kUserCountsFrom, {nextUnreadOrgId_, batchSize_}); rows->next(); ++count) {
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
    if (!orphans.empty()) nextUnreadOrgId_ = orphans.back().orgId + 1;
    return orphans;
}

}  // namespace bridge::migrations
