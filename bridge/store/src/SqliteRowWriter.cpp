#include "bridge/store/SqliteRowWriter.h"

#include <Poco/Data/SQLite/Utility.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "bridge/store/SqliteStatementCache.h"

namespace bridge {

namespace {

// Enough rows per statement that its start and end cost little per row; few enough that a statement is quick to
// prepare. Fewer where the connection's limit on bound values would be passed (999 before SQLite 3.32).
constexpr std::size_t kRowsPerStatement = 64;

// OR FAIL: a refused row stops its statement and leaves the rows before it, instead of undoing the statement alone.
// Undoing it alone needs a statement journal, which SQLite writes for every statement of many rows (to temporary
// files once past 64 KiB: 600 MB for a migration of a million users, a twentieth of its CPU time). The caller's
// transaction is rolled back on any failure anyway (RowWriter's contract).
constexpr std::string_view kInsertInto = "INSERT OR FAIL INTO ";

}  // namespace

SqliteRowWriter::SqliteRowWriter(sqlite3* database, std::string_view table, std::string_view columnNames,
                                 std::size_t columnCount)
    : database_(database),
      insertInto_(std::string(kInsertInto) + std::string(table) + " (" + std::string(columnNames) + ") VALUES "),
      columnCount_(columnCount),
      rowsPerStatement_(kRowsPerStatement) {
    if (columnCount_ == 0) throw std::invalid_argument("SqliteRowWriter: a row needs at least one column");
    const auto mostBoundValues = static_cast<std::size_t>(sqlite3_limit(database_, SQLITE_LIMIT_VARIABLE_NUMBER, -1));
    if (columnCount_ > mostBoundValues) throw std::invalid_argument("SqliteRowWriter: more columns than SQLite binds");
    rowsPerStatement_ = std::min(rowsPerStatement_, mostBoundValues / columnCount_);
    rowPlaceholders_ = "(?";
    for (std::size_t column = 1; column < columnCount_; ++column) rowPlaceholders_ += ", ?";
    rowPlaceholders_ += ")";
    pending_.reserve(rowsPerStatement_ * columnCount_);
}

SqliteRowWriter::SqliteRowWriter(SqliteStatementCache& cache, std::string_view table, std::string_view columnNames,
                                 std::size_t columnCount)
    : SqliteRowWriter(cache.database(), table, columnNames, columnCount) {
    cache_ = &cache;
}

SqliteRowWriter::~SqliteRowWriter() {
    if (cache_ == nullptr) sqlite3_finalize(fullStatement_);
}

void SqliteRowWriter::add(std::int64_t value) { pending_.push_back({Value::Kind::Integer, value, {}}); }

void SqliteRowWriter::add(std::string_view value) { pending_.push_back({Value::Kind::Text, 0, value}); }

void SqliteRowWriter::addNull() { pending_.push_back({Value::Kind::Null, 0, {}}); }

void SqliteRowWriter::endRow() {
    if (pending_.size() != (pendingRows_ + 1) * columnCount_) {
        throw std::logic_error("SqliteRowWriter: a row of " + std::to_string(columnCount_) + " columns was given " +
                               std::to_string(pending_.size() - pendingRows_ * columnCount_) + " values");
    }
    if (++pendingRows_ == rowsPerStatement_) {
        write(0, pendingRows_);
        forgetPending();
    }
}

void SqliteRowWriter::finish() {
    // The rows short of a full statement go in statements of 32, 16, ... 1 rows: a handful of statements each
    // table needs at most, which a statement cache keeps, rather than one of every length.
    std::size_t firstRow = 0;
    for (std::size_t rows = std::bit_floor(pendingRows_); rows > 0; rows = std::bit_floor(pendingRows_ - firstRow)) {
        write(firstRow, rows);
        firstRow += rows;
    }
    forgetPending();
}

void SqliteRowWriter::forgetPending() {
    pending_.clear();
    pendingRows_ = 0;
}

void SqliteRowWriter::write(std::size_t firstRow, std::size_t rows) {
    sqlite3_stmt* statement = nullptr;
    if (rows == rowsPerStatement_) {
        if (fullStatement_ == nullptr) fullStatement_ = prepare(rows);
        statement = fullStatement_;
    } else {
        statement = prepare(rows);  // the last, shorter sets: once per writer
    }
    int parameter = 0;
    int result = SQLITE_OK;
    const Value* values = pending_.data() + firstRow * columnCount_;
    for (std::size_t i = 0; i < rows * columnCount_ && result == SQLITE_OK; ++i) {
        const Value& value = values[i];
        ++parameter;
        switch (value.kind) {
            case Value::Kind::Integer: result = sqlite3_bind_int64(statement, parameter, value.integer); break;
            // SQLITE_STATIC: the text is the caller's until finish() (RowWriter's contract), so it is not copied.
            // A null pointer would bind NULL: an empty view may have one, and an empty text is not NULL.
            case Value::Kind::Text:
                result = sqlite3_bind_text(statement, parameter, value.text.empty() ? "" : value.text.data(),
                                           static_cast<int>(value.text.size()), SQLITE_STATIC);
                break;
            case Value::Kind::Null: result = sqlite3_bind_null(statement, parameter); break;
        }
    }
    if (result == SQLITE_OK) result = sqlite3_step(statement) == SQLITE_DONE ? SQLITE_OK : sqlite3_reset(statement);
    if (statement == fullStatement_ || cache_ != nullptr) {
        sqlite3_reset(statement);
    } else {
        sqlite3_finalize(statement);
    }
    if (result != SQLITE_OK) fail(result);
}

sqlite3_stmt* SqliteRowWriter::prepare(std::size_t rows) {
    std::string sql = insertInto_;
    sql.reserve(insertInto_.size() + rows * (rowPlaceholders_.size() + 2));
    for (std::size_t row = 0; row < rows; ++row) {
        if (row > 0) sql += ", ";
        sql += rowPlaceholders_;
    }
    if (cache_ != nullptr) {
        sqlite3_stmt* statement = cache_->statement(sql);
        if (statement == nullptr) fail(sqlite3_errcode(database_));
        return statement;
    }
    sqlite3_stmt* statement = nullptr;
    const int result = sqlite3_prepare_v2(database_, sql.c_str(), static_cast<int>(sql.size()), &statement, nullptr);
    if (result != SQLITE_OK) fail(result);
    return statement;
}

void SqliteRowWriter::fail(int resultCode) {
    // The primary code: Poco maps those (a unique key's refusal to ConstraintViolationException, which the store
    // reads as a duplicate key), not the extended ones.
    Poco::Data::SQLite::Utility::throwException(database_, resultCode & 0xFF);
    // Poco lets the codes that are no error pass (OK, ROW, DONE); this is only called with errors.
    throw std::logic_error("SqliteRowWriter: SQLite failed with code " + std::to_string(resultCode));
}

}  // namespace bridge
