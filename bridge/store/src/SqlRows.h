// Inserting many rows at once, through the backend's RowWriter or in many-row statements; private to the store.
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bridge/store/RowWriter.h"

namespace bridge::sql {

// Rows per statement where each statement is a round trip to a database server; within both databases' limits on
// bound values (MySQL 65535, SQLite 32766) for the widest table.
inline constexpr std::size_t kRowsPerServerInsert = 500;

inline void addValue(RowWriter& writer, Poco::Int64 value) { writer.add(std::int64_t{value}); }
inline void addValue(RowWriter& writer, const std::string& value) { writer.add(std::string_view(value)); }
inline void addValue(RowWriter& writer, std::string_view value) { writer.add(value); }
inline void addValue(RowWriter& writer, const std::optional<std::string>& value) {
    if (value) {
        writer.add(std::string_view(*value));
    } else {
        writer.addNull();
    }
}
template <typename T>
void addValue(RowWriter& writer, const Poco::Nullable<T>& value) {
    if (value.isNull()) {
        writer.addNull();
    } else {
        addValue(writer, value.value());
    }
}

// Inserts rows given column by column, every column as long as the first. Through the backend's RowWriter where it
// has one; otherwise in "VALUES (...), (...)" statements of kRowsPerServerInsert rows, one round trip each: the
// statement is prepared once and each chunk's values are swapped into the rows it reads, so that a server parses
// it once, not once per chunk (a shorter last chunk gets a statement of its own; the columns' values are moved out).
template <typename... Columns>
void insertRows(Poco::Data::Session& session, const OpenRowWriter& openRowWriter, std::string_view table,
                std::string_view columnNames, Columns&... columns) {
    const std::size_t rows = std::get<0>(std::tie(columns...)).size();
    if (rows == 0) return;
    if (auto writer = openRowWriter(table, columnNames, sizeof...(Columns))) {
        for (std::size_t row = 0; row < rows; ++row) {
            (addValue(*writer, columns[row]), ...);
            writer->endRow();
        }
        writer->finish();
        return;
    }
    std::string rowPlaceholders = "(?";
    for (std::size_t column = 1; column < sizeof...(Columns); ++column) rowPlaceholders += ", ?";
    rowPlaceholders += ")";
    const std::string insertInto = "INSERT INTO " + std::string(table) + " (" + std::string(columnNames) + ") VALUES ";
    std::tuple<Columns...> chunk;
    std::optional<Poco::Data::Statement> insert;
    std::size_t preparedRows = 0;
    for (std::size_t first = 0; first < rows; first += kRowsPerServerInsert) {
        const std::size_t count = std::min(kRowsPerServerInsert, rows - first);
        if (count != preparedRows) {
            std::apply([&](auto&... chunkColumns) { (chunkColumns.resize(count), ...); }, chunk);
            std::string sql = insertInto + rowPlaceholders;
            for (std::size_t row = 1; row < count; ++row) sql += ", " + rowPlaceholders;
            insert.emplace(session);
            *insert << sql;
            for (std::size_t row = 0; row < count; ++row) {
                std::apply(
                    [&](auto&... chunkColumns) {
                        (insert->addBind(Poco::Data::Keywords::useRef(chunkColumns[row])), ...);
                    },
                    chunk);
            }
            preparedRows = count;
        }
        std::apply(
            [&](auto&... chunkColumns) {
                (std::swap_ranges(chunkColumns.begin(), chunkColumns.end(), columns.begin() + first), ...);
            },
            chunk);
        insert->execute();
    }
}

// Integers written into the SQL as they are, for an IN list: one query for a whole batch instead of one per row.
std::string idList(const std::vector<Poco::Int64>& ids);

}  // namespace bridge::sql
