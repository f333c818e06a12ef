// A connection's columns: read as one row, written as one vector per column (any number of rows through one
// prepared statement). Private to the store.
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <string>
#include <string_view>
#include <vector>

#include "SqlValues.h"
#include "bridge/store/Model.h"
#include "bridge/store/RowWriter.h"

namespace bridge::sql {

using ConnectionRow = Poco::Tuple<Int64, Int64, std::string, std::string, Nullable<std::string>, Nullable<std::string>,
                                  Nullable<std::string>, Nullable<std::string>, Nullable<std::string>,
                                  Nullable<std::string>, Nullable<std::string>, Nullable<Int64>, Nullable<Int64>,
                                  Nullable<std::string>, Nullable<Int64>, Nullable<Int64>, Int64>;

inline constexpr std::string_view kConnectionColumns =
    "org_id, login_enabled, auth_method, status, environment, sa_user_id, sa_username, sf_org_id, instance_url, "
    "refresh_token_ct, refresh_token_key, status_changed_at, connected_at, last_error, last_refresh_at, "
    "changed_by_admin_at, version";

Connection connectionFromRow(const ConnectionRow& row);

// Connections as one vector per column: any number of rows goes to the database through one prepared statement.
struct ConnectionColumns {
    std::vector<Int64> orgIds, loginEnabled, versions;
    std::vector<std::string> authorizationMethods, statuses, writtenBy;
    std::vector<Nullable<std::string>> environments, serviceAccountUserIds, serviceAccountUsernames, salesforceOrgIds,
        instanceUrls, tokenCiphertexts, tokenKeys, lastErrors;
    std::vector<Nullable<Int64>> statusChangedAt, connectedAt, lastRefreshAt, changedByAdminAt;

    ConnectionColumns() = default;
    ConnectionColumns(const Connection& connection, std::string_view writer) { add(connection, writer); }

    void add(const Connection& c, std::string_view writer) { add(c, c.orgId, c.version, writer); }
    // The row of `c` under another organization id and version.
    void add(const Connection& c, Int64 orgId, Int64 version, std::string_view writer);
    bool empty() const { return orgIds.empty(); }
};

void insertConnections(Session& session, ConnectionColumns& rows, const OpenRowWriter& openRowWriter);
void updateConnections(Session& session, ConnectionColumns& rows);
// Updates the row where it `exists`, inserts it otherwise.
void writeConnection(Session& session, const Connection& connection, bool exists, std::string_view writtenBy,
                     const OpenRowWriter& openRowWriter);

}  // namespace bridge::sql
