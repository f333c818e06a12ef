#include <gtest/gtest.h>

#include "bridge/Config.h"
#include "migrations/MySqlDsn.h"

namespace bridge::migrations {
namespace {

TEST(MySqlDsnTest, ReadsEveryPart) {
    const auto dsn = MySqlDsn::parse("mysql://reader:s3cret@db.internal:3307/legacy", "legacy.dsn");
    EXPECT_EQ(dsn.user, "reader");
    EXPECT_EQ(dsn.password, "s3cret");
    EXPECT_EQ(dsn.host, "db.internal");
    EXPECT_EQ(dsn.port, 3307);
    EXPECT_EQ(dsn.database, "legacy");
    EXPECT_FALSE(dsn.socket);
    EXPECT_EQ(dsn.redacted(), "mysql://reader@db.internal:3307/legacy");
}

TEST(MySqlDsnTest, DefaultsThePortAndDecodesPercentEscapes) {
    const auto dsn =
        MySqlDsn::parse("mysql://r%40x:p%3A%2F%40w@localhost/legacy?socket=/run/mysqld/mysqld.sock", "legacy.dsn");
    EXPECT_EQ(dsn.user, "r@x");
    EXPECT_EQ(dsn.password, "p:/@w");
    EXPECT_EQ(dsn.port, 3306);
    EXPECT_EQ(dsn.socket, "/run/mysqld/mysqld.sock");
}

TEST(MySqlDsnTest, AnEmptyPasswordIsAllowed) {
    EXPECT_EQ(MySqlDsn::parse("mysql://root:@127.0.0.1:3306/x", "legacy.dsn").password, "");
    EXPECT_EQ(MySqlDsn::parse("mysql://root@127.0.0.1:3306/x", "legacy.dsn").password, "");
}

TEST(MySqlDsnTest, RefusesWhatItCannotUseWithoutRepeatingThePassword) {
    for (const std::string text :
         {"sqlite:bridge.db", "mysql://host/db", "mysql://u:topsecret@host:0/db", "mysql://u:topsecret@host:99999/db",
          "mysql://u:topsecret@host:3306", "mysql://u:topsecret@:3306/db", "mysql://u:top%zzsecret@host/db",
          "mysql://u:topsecret@host/db?timeout=3"}) {
        try {
            MySqlDsn::parse(text, "legacy.dsn");
            ADD_FAILURE() << "accepted " << text;
        } catch (const ConfigError& error) {
            EXPECT_EQ(std::string(error.what()).rfind("legacy.dsn: ", 0), 0u) << error.what();
            EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
        }
    }
}

}  // namespace
}  // namespace bridge::migrations
