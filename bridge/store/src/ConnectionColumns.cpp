#include "ConnectionColumns.h"

#include "SqlRows.h"
#include "SqlValues.h"

using namespace Poco::Data::Keywords;

namespace bridge::sql {

Connection connectionFromRow(const ConnectionRow& row) {
    Connection connection;
    connection.orgId = row.get<0>();
    connection.serviceAccountLoginEnabled = row.get<1>() != 0;
    connection.authorizationMethod = row.get<2>();
    connection.status = statusFromColumn(row.get<3>());
    if (!row.get<4>().isNull()) connection.environment = environmentFromColumn(row.get<4>().value());
    connection.serviceAccountUserId = toOptional(row.get<5>());
    connection.serviceAccountUsername = toOptional(row.get<6>());
    connection.salesforceOrgId = toOptional(row.get<7>());
    connection.instanceUrl = toOptional(row.get<8>());
    if (!row.get<9>().isNull() && !row.get<10>().isNull()) {
        connection.refreshToken = SealedToken{row.get<10>().value(), row.get<9>().value()};
    }
    connection.statusChangedAt = toOptional(row.get<11>());
    connection.connectedAt = toOptional(row.get<12>());
    connection.lastError = toOptional(row.get<13>());
    connection.lastRefreshAt = toOptional(row.get<14>());
    connection.changedByAdminAt = toOptional(row.get<15>());
    connection.version = row.get<16>();
    return connection;
}

void ConnectionColumns::add(const Connection& c, Int64 orgId, Int64 version, std::string_view writer) {
    orgIds.push_back(orgId);
    loginEnabled.push_back(c.serviceAccountLoginEnabled ? 1 : 0);
    authorizationMethods.push_back(c.authorizationMethod);
    statuses.emplace_back(statusColumn(c.status));
    environments.push_back(c.environment ? Nullable<std::string>(std::string(environmentColumn(*c.environment)))
                                         : Nullable<std::string>());
    serviceAccountUserIds.push_back(toNullable(c.serviceAccountUserId));
    serviceAccountUsernames.push_back(toNullable(c.serviceAccountUsername));
    salesforceOrgIds.push_back(toNullable(c.salesforceOrgId));
    instanceUrls.push_back(toNullable(c.instanceUrl));
    tokenCiphertexts.push_back(c.refreshToken ? Nullable<std::string>(c.refreshToken->ciphertext)
                                              : Nullable<std::string>());
    tokenKeys.push_back(c.refreshToken ? Nullable<std::string>(c.refreshToken->keyId) : Nullable<std::string>());
    statusChangedAt.push_back(toNullable(c.statusChangedAt));
    connectedAt.push_back(toNullable(c.connectedAt));
    lastErrors.push_back(toNullable(c.lastError));
    lastRefreshAt.push_back(toNullable(c.lastRefreshAt));
    changedByAdminAt.push_back(toNullable(c.changedByAdminAt));
    writtenBy.emplace_back(writer);
    versions.push_back(version);
}

void insertConnections(Session& session, ConnectionColumns& rows, const OpenRowWriter& openRowWriter) {
    insertRows(session, openRowWriter, "connections", std::string(kConnectionColumns) + ", written_by", rows.orgIds,
               rows.loginEnabled, rows.authorizationMethods, rows.statuses, rows.environments,
               rows.serviceAccountUserIds, rows.serviceAccountUsernames, rows.salesforceOrgIds, rows.instanceUrls,
               rows.tokenCiphertexts, rows.tokenKeys, rows.statusChangedAt, rows.connectedAt, rows.lastErrors,
               rows.lastRefreshAt, rows.changedByAdminAt, rows.versions, rows.writtenBy);
}

void updateConnections(Session& session, ConnectionColumns& rows) {
    if (rows.empty()) return;
    session << "UPDATE connections SET login_enabled = ?, auth_method = ?, status = ?, environment = ?, "
               "sa_user_id = ?, sa_username = ?, sf_org_id = ?, instance_url = ?, refresh_token_ct = ?, "
               "refresh_token_key = ?, status_changed_at = ?, connected_at = ?, last_error = ?, "
               "last_refresh_at = ?, changed_by_admin_at = ?, written_by = ?, version = ? WHERE org_id = ?",
        use(rows.loginEnabled), use(rows.authorizationMethods), use(rows.statuses), use(rows.environments),
        use(rows.serviceAccountUserIds), use(rows.serviceAccountUsernames), use(rows.salesforceOrgIds),
        use(rows.instanceUrls), use(rows.tokenCiphertexts), use(rows.tokenKeys), use(rows.statusChangedAt),
        use(rows.connectedAt), use(rows.lastErrors), use(rows.lastRefreshAt), use(rows.changedByAdminAt),
        use(rows.writtenBy), use(rows.versions), use(rows.orgIds), now;
}

void writeConnection(Session& session, const Connection& connection, bool exists, std::string_view writtenBy,
                     const OpenRowWriter& openRowWriter) {
    ConnectionColumns row(connection, writtenBy);
    if (exists) {
        updateConnections(session, row);
    } else {
        insertConnections(session, row, openRowWriter);
    }
}

}  // namespace bridge::sql
