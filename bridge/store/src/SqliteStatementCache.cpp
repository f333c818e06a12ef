#include "bridge/store/SqliteStatementCache.h"

#include <sqlite3.h>

namespace bridge {

SqliteStatementCache::~SqliteStatementCache() {
    for (const auto& [sql, statement] : statements_) sqlite3_finalize(statement);
}

sqlite3_stmt* SqliteStatementCache::statement(const std::string& sql) {
    if (const auto found = statements_.find(sql); found != statements_.end()) {
        sqlite3_reset(found->second);
        sqlite3_clear_bindings(found->second);
        return found->second;
    }
    sqlite3_stmt* prepared = nullptr;
    if (sqlite3_prepare_v3(database_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &prepared,
                           nullptr) != SQLITE_OK) {
        sqlite3_finalize(prepared);
        return nullptr;
    }
    statements_.emplace(sql, prepared);
    return prepared;
}

}  // namespace bridge
