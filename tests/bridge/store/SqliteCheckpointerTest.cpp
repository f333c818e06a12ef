#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "bridge/store/SqliteCheckpointer.h"
#include "testsupport/TestDirectory.h"

namespace bridge {
namespace {

using namespace Poco::Data::Keywords;
namespace fs = std::filesystem;

constexpr int kRows = 2000;

// Waits up to five seconds for the file to pass a size.
bool growsPast(const fs::path& file, std::uintmax_t size) {
    const auto giveUpAt = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (fs::file_size(file) <= size) {
        if (std::chrono::steady_clock::now() > giveUpAt) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

TEST(SqliteCheckpointerTest, CopiesCommittedPagesIntoTheDatabaseFile) {
    const fs::path database = testsupport::freshTestDirectory("bridge-checkpointer") / "store.db";
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session writer("SQLite", database.string());
    std::string mode;
    writer << "PRAGMA journal_mode = WAL", into(mode), now;
    ASSERT_EQ(mode, "wal");
    writer << "PRAGMA wal_autocheckpoint = 0", now;  // only the checkpointer copies pages
    writer << "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL)", now;
    writer << "BEGIN", now;
    for (int i = 0; i < kRows; ++i) writer << "INSERT INTO t (text) VALUES (?)", bind(std::string(200, 'x')), now;
    writer << "COMMIT", now;
    const auto before = fs::file_size(database);
    ASSERT_GT(fs::file_size(database.string() + "-wal"), 200u * kRows) << "the rows wait in the WAL";

    SqliteCheckpointer checkpointer(database.string());
    checkpointer.requestCheckpoint();
    EXPECT_TRUE(growsPast(database, before + 200u * kRows)) << "the pages reached the database file";

    // The copy is a passive checkpoint: the writer goes on meanwhile, and its next commit is copied too.
    writer << "INSERT INTO t (text) VALUES (?)", bind(std::string(200, 'y')), now;
    const auto afterFirst = fs::file_size(database);
    for (int i = 0; i < kRows; ++i) writer << "INSERT INTO t (text) VALUES (?)", bind(std::string(200, 'z')), now;
    checkpointer.requestCheckpoint();
    EXPECT_TRUE(growsPast(database, afterFirst + 200u * kRows));
    int rows = 0;
    writer << "SELECT COUNT(*) FROM t", into(rows), now;
    EXPECT_EQ(rows, 2 * kRows + 1);
}

// Watching a writer, it checkpoints as the writer commits, without being asked.
TEST(SqliteCheckpointerTest, AWatchedWriterIsCheckpointedEveryThousandPages) {
    const fs::path database = testsupport::freshTestDirectory("bridge-checkpointer") / "store.db";
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session writer("SQLite", database.string());
    writer << "PRAGMA journal_mode = WAL", now;
    writer << "PRAGMA wal_autocheckpoint = 0", now;  // were it not watched, nothing would copy the pages
    writer << "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL)", now;
    const auto before = fs::file_size(database);
    SqliteCheckpointer checkpointer(database.string());
    checkpointer.watch(Poco::Data::SQLite::Utility::dbHandle(writer));
    // Commits of about 100 pages each (a row per page, 4 KiB pages), past 1,000 pages in all.
    for (int commit = 0; commit < 12; ++commit) {
        writer << "BEGIN", now;
        for (int i = 0; i < 100; ++i) writer << "INSERT INTO t (text) VALUES (?)", bind(std::string(3000, 'x')), now;
        writer << "COMMIT", now;
    }
    EXPECT_TRUE(growsPast(database, before + 3000u * 900)) << "the first thousand pages reached the database file";
}

TEST(SqliteCheckpointerTest, AStoreItCannotOpenLeavesItIdleAndStoppable) {
    const fs::path missing = testsupport::freshTestDirectory("bridge-checkpointer") / "absent" / "store.db";
    SqliteCheckpointer checkpointer(missing.string());
    checkpointer.requestCheckpoint();
    EXPECT_FALSE(fs::exists(missing)) << "it opens an existing store, never creates one";
}

}  // namespace
}  // namespace bridge
