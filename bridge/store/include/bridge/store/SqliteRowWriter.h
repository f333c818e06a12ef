#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bridge/store/RowWriter.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bridge {

class SqliteStatementCache;

// Rows into one SQLite table through sqlite3's own API: statements of many rows ("VALUES (...), (...)"), each
// prepared once and run again for every full set of rows, with the values bound in place rather than copied. Poco's
// bindings copy every text and run one statement per row; loading a million rows, that is most of the time.
class SqliteRowWriter : public RowWriter {
public:
    // `database` is the connection of the caller's transaction; it must outlive the writer.
    SqliteRowWriter(sqlite3* database, std::string_view table, std::string_view columnNames, std::size_t columnCount);
    // Takes its statements from the cache (the connection is the cache's), and leaves them there.
    SqliteRowWriter(SqliteStatementCache& cache, std::string_view table, std::string_view columnNames,
                    std::size_t columnCount);
    ~SqliteRowWriter() override;
    SqliteRowWriter(const SqliteRowWriter&) = delete;
    SqliteRowWriter& operator=(const SqliteRowWriter&) = delete;

    void add(std::int64_t value) override;
    void add(std::string_view value) override;
    void addNull() override;
    void endRow() override;
    void finish() override;

private:
    struct Value {
        enum class Kind { Integer, Text, Null } kind;
        std::int64_t integer = 0;
        std::string_view text;
    };

    // Runs the statement of `rows` rows over pending_'s rows from `firstRow` on.
    void write(std::size_t firstRow, std::size_t rows);
    void forgetPending();
    sqlite3_stmt* prepare(std::size_t rows);
    [[noreturn]] void fail(int resultCode);

    sqlite3* database_;
    SqliteStatementCache* cache_ = nullptr;  // nullptr: statements of its own, finalized after use
    std::string insertInto_;                 // "INSERT OR FAIL INTO t (a, b) VALUES "
    std::string rowPlaceholders_;            // "(?, ?)"
    std::size_t columnCount_;
    std::size_t rowsPerStatement_;
    std::vector<Value> pending_;  // the values of the rows not written yet, row after row
    std::size_t pendingRows_ = 0;
    // rowsPerStatement_ rows, prepared (or taken from the cache) when first needed.
    sqlite3_stmt* fullStatement_ = nullptr;
};

}  // namespace bridge
