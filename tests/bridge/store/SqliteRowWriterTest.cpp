#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bridge/store/SqliteRowWriter.h"
#include "bridge/store/SqliteStatementCache.h"

namespace bridge {
namespace {

using namespace Poco::Data::Keywords;
using Row = Poco::Tuple<Poco::Int64, Poco::Nullable<std::string>, Poco::Nullable<Poco::Int64>>;

class SqliteRowWriterTest : public ::testing::Test {
protected:
    SqliteRowWriterTest() : session_((Poco::Data::SQLite::Connector::registerConnector(), "SQLite"), ":memory:") {
        session_ << "CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY, label TEXT NULL, amount BIGINT NULL)", now;
    }

    SqliteRowWriter writer() { return SqliteRowWriter(database(), "t", "id, label, amount", 3); }
    sqlite3* database() { return Poco::Data::SQLite::Utility::dbHandle(session_); }

    std::vector<Row> rows() {
        std::vector<Row> read;
        session_ << "SELECT id, label, amount FROM t ORDER BY id", into(read), now;
        return read;
    }

    Poco::Data::Session session_;
};

// Around the number of rows per statement (64): none, one, a full statement, one more, several and a remainder.
TEST_F(SqliteRowWriterTest, EveryRowArrivesWithItsValuesWhateverTheCount) {
    for (const int count : {0, 1, 63, 64, 65, 200}) {
        session_ << "DELETE FROM t", now;
        std::vector<std::string> labels;
        for (int i = 0; i < count; ++i) labels.push_back("label " + std::to_string(i) + " \xC3\xA9\t'\"\\");
        SqliteRowWriter rowWriter = writer();
        for (int i = 0; i < count; ++i) {
            rowWriter.add(std::int64_t{i});
            if (i % 3 == 0) {
                rowWriter.addNull();
            } else {
                rowWriter.add(std::string_view(labels[i]));
            }
            rowWriter.add(i % 2 == 0 ? std::numeric_limits<std::int64_t>::min() + i
                                     : std::numeric_limits<std::int64_t>::max() - i);
            rowWriter.endRow();
        }
        rowWriter.finish();

        const auto read = rows();
        ASSERT_EQ(read.size(), static_cast<std::size_t>(count)) << count;
        for (int i = 0; i < count; ++i) {
            EXPECT_EQ(read[i].get<0>(), i);
            EXPECT_EQ(read[i].get<1>().isNull(), i % 3 == 0) << i;
            if (i % 3 != 0) {
                EXPECT_EQ(read[i].get<1>().value(), labels[i]);
            }
            EXPECT_EQ(read[i].get<2>().value(), i % 2 == 0 ? std::numeric_limits<std::int64_t>::min() + i
                                                           : std::numeric_limits<std::int64_t>::max() - i);
        }
    }
}

// The statements a connection holds, prepared and not finalized.
int openStatements(sqlite3* database) {
    int count = 0;
    for (sqlite3_stmt* statement = sqlite3_next_stmt(database, nullptr); statement != nullptr;
         statement = sqlite3_next_stmt(database, statement)) {
        ++count;
    }
    return count;
}

// With a cache, writers leave their statements for the next one: a full one and one per power of two below it,
// whatever the row counts, and none once the cache is gone.
TEST_F(SqliteRowWriterTest, WritersWithACacheShareAFewStatements) {
    const int before = openStatements(database());
    {
        SqliteStatementCache cache(database());
        std::int64_t id = 0;
        for (const int count : {200, 63, 64, 1, 37, 200}) {
            SqliteRowWriter rowWriter(cache, "t", "id, label, amount", 3);
            for (int i = 0; i < count; ++i) {
                rowWriter.add(id++);
                rowWriter.add(std::string_view("cached"));
                rowWriter.addNull();
                rowWriter.endRow();
            }
            rowWriter.finish();
            EXPECT_LE(openStatements(database()) - before, 7) << count;  // 64, 32, 16, 8, 4, 2 and 1 rows
        }
        const auto read = rows();
        ASSERT_EQ(read.size(), static_cast<std::size_t>(id));
        for (std::int64_t i = 0; i < id; ++i) EXPECT_EQ(read[i].get<0>(), i);
        EXPECT_EQ(cache.statement("INSERT INTO missing (id) VALUES (?)"), nullptr);
    }
    EXPECT_EQ(openStatements(database()), before);
}

TEST_F(SqliteRowWriterTest, AnEmptyTextIsTextNotNull) {
    SqliteRowWriter rowWriter = writer();
    rowWriter.add(std::int64_t{1});
    rowWriter.add(std::string_view());
    rowWriter.addNull();
    rowWriter.endRow();
    rowWriter.finish();
    const auto read = rows();
    ASSERT_EQ(read.size(), 1u);
    ASSERT_FALSE(read[0].get<1>().isNull());
    EXPECT_EQ(read[0].get<1>().value(), "");
    EXPECT_TRUE(read[0].get<2>().isNull());
}

TEST_F(SqliteRowWriterTest, ARowWithTheWrongNumberOfValuesIsRefusedBeforeAnythingIsWritten) {
    SqliteRowWriter rowWriter = writer();
    rowWriter.add(std::int64_t{1});
    rowWriter.add(std::string_view("only two"));
    EXPECT_THROW(rowWriter.endRow(), std::logic_error);
    EXPECT_TRUE(rows().empty());
}

TEST_F(SqliteRowWriterTest, ADuplicateKeyThrowsTheConstraintViolationThatTheStoreReadsAsSuch) {
    session_ << "INSERT INTO t (id, label, amount) VALUES (7, 'there', 0)", now;
    session_ << "BEGIN", now;
    SqliteRowWriter rowWriter = writer();
    for (const std::int64_t id : {6, 7}) {
        rowWriter.add(id);
        rowWriter.addNull();
        rowWriter.addNull();
        rowWriter.endRow();
    }
    EXPECT_THROW(rowWriter.finish(), Poco::Data::SQLite::ConstraintViolationException);
    // The transaction goes on (OR FAIL, not ROLLBACK) and is the caller's to roll back, 6 with it.
    session_ << "ROLLBACK", now;
    ASSERT_EQ(rows().size(), 1u);
    EXPECT_EQ(rows()[0].get<0>(), 7);
}

TEST_F(SqliteRowWriterTest, AFullStatementThatFailsLeavesTheConnectionUsable) {
    session_ << "INSERT INTO t (id, label, amount) VALUES (63, 'there', 0)", now;
    session_ << "BEGIN", now;
    {
        SqliteRowWriter rowWriter = writer();
        for (std::int64_t id = 0; id < 64; ++id) {
            rowWriter.add(id);
            rowWriter.addNull();
            rowWriter.addNull();
            // The 64th row fills the statement: it runs, and fails, here.
            if (id < 63) {
                rowWriter.endRow();
            } else {
                EXPECT_THROW(rowWriter.endRow(), Poco::Data::SQLite::ConstraintViolationException);
            }
        }
    }
    session_ << "ROLLBACK", now;
    EXPECT_EQ(rows().size(), 1u);
    SqliteRowWriter again = writer();
    again.add(std::int64_t{1});
    again.add(std::string_view("after"));
    again.addNull();
    again.endRow();
    again.finish();
    EXPECT_EQ(rows().size(), 2u);
}

TEST_F(SqliteRowWriterTest, AnUnknownTableThrowsAPocoDataException) {
    SqliteRowWriter rowWriter(database(), "missing", "id", 1);
    rowWriter.add(std::int64_t{1});
    rowWriter.endRow();
    EXPECT_THROW(rowWriter.finish(), Poco::Data::DataException);
}

}  // namespace
}  // namespace bridge
