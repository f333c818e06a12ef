#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace bridge {

// Many rows for one table, given value by value in the order of the columns named when it was opened, written in
// the caller's transaction. A backend's faster way to load many rows than statements bound through Poco (see
// SqlStore::openRowWriter); a failure throws the Poco::Data exception a statement would, and leaves some of the
// rows written: the caller rolls its transaction back.
class RowWriter {
public:
    virtual ~RowWriter() = default;

    virtual void add(std::int64_t value) = 0;
    // The text is borrowed: it must stay valid until finish() returns.
    virtual void add(std::string_view value) = 0;
    virtual void addNull() = 0;
    // Ends a row; the rows given so far may be written now.
    virtual void endRow() = 0;
    // Writes the rows not written yet.
    virtual void finish() = 0;
};

// Opens a RowWriter for a table and its columns, or gives nullptr where the backend has no faster way.
using OpenRowWriter = std::function<std::unique_ptr<RowWriter>(std::string_view table, std::string_view columnNames,
                                                               std::size_t columnCount)>;

}  // namespace bridge
