#pragma once

#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace bridge {

// Prepared statements of one SQLite connection, kept by their SQL for as long as the cache lives: a statement of
// many rows takes longer to prepare than to run, and the migrator runs the same ones for every batch. Used by one
// thread at a time, like its connection, which must outlive it.
class SqliteStatementCache {
public:
    explicit SqliteStatementCache(sqlite3* database) : database_(database) {}
    // Finalizes every statement.
    ~SqliteStatementCache();
    SqliteStatementCache(const SqliteStatementCache&) = delete;
    SqliteStatementCache& operator=(const SqliteStatementCache&) = delete;

    sqlite3* database() const { return database_; }
    // The statement prepared for `sql`, reset, with no values bound; nullptr with the connection's error when
    // SQLite cannot prepare it.
    sqlite3_stmt* statement(const std::string& sql);

private:
    sqlite3* database_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace bridge
