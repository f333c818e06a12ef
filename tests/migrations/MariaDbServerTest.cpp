#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <mysql_driver.h>

#include <filesystem>
#include <memory>

#include "testsupport/MariaDbServer.h"

namespace bridge::testsupport {
namespace {

std::unique_ptr<sql::Connection> connectAs(const MariaDbServer& server, const std::string& user,
                                           const std::string& password, const std::string& database) {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString("tcp://127.0.0.1:" + std::to_string(server.port()));
    options["userName"] = sql::SQLString(user);
    options["password"] = sql::SQLString(password);
    options["schema"] = sql::SQLString(database);
    return std::unique_ptr<sql::Connection>(sql::mysql::get_mysql_driver_instance()->connect(options));
}

std::int64_t countRows(sql::Connection& connection, const std::string& table) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery("SELECT COUNT(*) FROM " + table));
    rows->next();
    return rows->getInt64(1);
}

TEST(MariaDbServerTest, ServesDatabasesAndUsersAndSurvivesARestart) {
    MariaDbServer server;
    server.createDatabase("legacy");
    server.createUser("writer", "w1", "legacy");
    server.createReadOnlyUser("reader", "r1", "legacy");
    EXPECT_EQ(server.dsn("legacy", "reader", "r1"),
              "mysql://reader:r1@127.0.0.1:" + std::to_string(server.port()) + "/legacy");

    auto writer = connectAs(server, "writer", "w1", "legacy");
    std::unique_ptr<sql::Statement>(writer->createStatement())->execute("CREATE TABLE t (id INT PRIMARY KEY)");
    std::unique_ptr<sql::Statement>(writer->createStatement())->execute("INSERT INTO t VALUES (1), (2)");
    writer.reset();

    auto reader = connectAs(server, "reader", "r1", "legacy");
    EXPECT_EQ(countRows(*reader, "t"), 2);
    EXPECT_THROW(std::unique_ptr<sql::Statement>(reader->createStatement())->execute("INSERT INTO t VALUES (3)"),
                 sql::SQLException);
    reader.reset();

    const auto port = server.port();
    server.stop();
    EXPECT_FALSE(server.running());
    EXPECT_THROW(connectAs(server, "reader", "r1", "legacy"), sql::SQLException);
    server.start();
    EXPECT_EQ(server.port(), port);
    EXPECT_EQ(countRows(*connectAs(server, "reader", "r1", "legacy"), "t"), 2);
}

TEST(MariaDbServerTest, RemovesItsDirectoryWhenDestroyed) {
    std::filesystem::path directory;
    {
        MariaDbServer server;
        directory = server.directory();
        EXPECT_TRUE(std::filesystem::exists(directory / "data"));
    }
    EXPECT_FALSE(std::filesystem::exists(directory));
}

TEST(MariaDbServerTest, RefusesNamesThatWouldNeedQuoting) {
    MariaDbServer server;
    EXPECT_THROW(server.createDatabase("bad`name"), std::invalid_argument);
}

}  // namespace
}  // namespace bridge::testsupport
