// SqlStore: sessions, the schema and the row writer hook. The queries live by concern in SqlStore*.cpp.
#include "bridge/store/SqlStore.h"

#include <Poco/Nullable.h>

#include "SqlStoreSessions.h"
#include "bridge/base/Logging.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

namespace sql {

void rollbackQuietly(Session& session) {
    try {
        session << "ROLLBACK", now;
    } catch (const Poco::Exception& error) {
        // The transaction is gone with the connection; the pool discards a broken session.
        logger("store")->warn("rollback failed: {}", error.displayText());
    }
}

}  // namespace sql

bool OrganizationScope::allows(std::int64_t legacyId) const {
    if (all) return true;
    for (auto id : legacyIds) {
        if (id == legacyId) return true;
    }
    return false;
}

std::unique_ptr<RowWriter> SqlStore::openRowWriter(Session&, std::string_view, std::string_view, std::size_t) {
    return nullptr;
}

OpenRowWriter SqlStore::rowWriterOpener(Session& session) {
    return [this, &session](std::string_view table, std::string_view columnNames, std::size_t columnCount) {
        return openRowWriter(session, table, columnNames, columnCount);
    };
}

// --- schema ---

int SqlStore::schemaVersion() {
    return withSession([](Session& session) {
        session << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
        Nullable<Int64> version;
        session << "SELECT MAX(version) FROM schema_version", into(version), now;
        return version.isNull() ? 0 : static_cast<int>(version.value());
    });
}

int SqlStore::applySchema(const std::vector<SchemaVersion>& versions) {
    return withSession([&](Session& session) {
        int reached = 0;
        withSchemaLock(session, [&] {
            session << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
            Nullable<Int64> current;
            session << "SELECT MAX(version) FROM schema_version", into(current), now;
            reached = current.isNull() ? 0 : static_cast<int>(current.value());
            for (const auto& version : versions) {
                if (version.version <= reached) continue;
                for (const auto& statement : version.statements) session << statement, now;
                session << "INSERT INTO schema_version (version) VALUES (?)", bind(Int64{version.version}), now;
                reached = version.version;
                logger("store")->info("store schema at version {}", reached);
            }
        });
        return reached;
    });
}

bool SqlStore::ping() {
    try {
        return withSession([](Session& session) {
            Int64 one = 0;
            session << "SELECT 1", into(one), now;
            return one == 1;
        });
    } catch (const Error&) {
        return false;
    }
}

}  // namespace bridge
