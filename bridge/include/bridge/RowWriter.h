#pragma once

#include <cstdint>
#include <string_view>

namespace bridge {

// Many rows for one table, given value by value in the order of the columns named when it was opened, written in
// the caller's transaction. A backend's faster way to load many rows than statements bound through Poco (see
// SqlStore::openRowWriter); a failure throws the Poco::Data exception a statement would.
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

}  // namespace bridge
