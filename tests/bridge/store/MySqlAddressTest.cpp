#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "bridge/base/Config.h"
#include "bridge/store/MySqlAddress.h"
#include "bridge/store/StoreFactory.h"

namespace bridge {
namespace {

TEST(MySqlAddressTest, ReadsEveryPart) {
    const auto dsn = MySqlAddress::parse("mysql://reader:s3cret@db.internal:3307/legacy", "legacy.dsn");
    EXPECT_EQ(dsn.user, "reader");
    EXPECT_EQ(dsn.password, "s3cret");
    EXPECT_EQ(dsn.host, "db.internal");
    EXPECT_EQ(dsn.port, 3307);
    EXPECT_EQ(dsn.database, "legacy");
    EXPECT_FALSE(dsn.socket);
    EXPECT_EQ(dsn.redacted(), "mysql://reader@db.internal:3307/legacy");
}

TEST(MySqlAddressTest, DefaultsThePortAndDecodesPercentEscapes) {
    const auto dsn =
        MySqlAddress::parse("mysql://r%40x:p%3A%2F%40w@localhost/legacy?socket=/run/mysqld/mysqld.sock", "legacy.dsn");
    EXPECT_EQ(dsn.user, "r@x");
    EXPECT_EQ(dsn.password, "p:/@w");
    EXPECT_EQ(dsn.port, 3306);
    EXPECT_EQ(dsn.socket, "/run/mysqld/mysqld.sock");
}

TEST(MySqlAddressTest, AnEmptyPasswordIsAllowed) {
    EXPECT_EQ(MySqlAddress::parse("mysql://root:@127.0.0.1:3306/x", "legacy.dsn").password, "");
    EXPECT_EQ(MySqlAddress::parse("mysql://root@127.0.0.1:3306/x", "legacy.dsn").password, "");
}

TEST(MySqlAddressTest, RefusesWhatItCannotUseWithoutRepeatingThePassword) {
    for (const std::string text :
         {"sqlite:bridge.db", "mysql://host/db", "mysql://u:topsecret@host:0/db", "mysql://u:topsecret@host:99999/db",
          "mysql://u:topsecret@host:3306", "mysql://u:topsecret@:3306/db", "mysql://u:top%zzsecret@host/db",
          "mysql://u:topsecret@host/db?timeout=3"}) {
        try {
            MySqlAddress::parse(text, "legacy.dsn");
            ADD_FAILURE() << "accepted " << text;
        } catch (const ConfigError& error) {
            EXPECT_EQ(std::string(error.what()).rfind("legacy.dsn: ", 0), 0u) << error.what();
            EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
        }
    }
}

// store.dsn takes the same addresses, handed to Poco's MySQL connector as its connection string.
TEST(MySqlAddressTest, TheStoreGetsTheDecodedAddressAsPocosConnectionString) {
    EXPECT_EQ(mysqlConnectionString("mysql://writer:p%40ss@db.internal:3307/store"),
              "host=db.internal;port=3307;user=writer;password=p@ss;db=store;character-set=utf8mb4");
    EXPECT_EQ(mysqlConnectionString("mysql://writer:pw@db.internal/store?socket=/tmp/m.sock"),
              "host=localhost;port=3306;user=writer;password=pw;db=store;character-set=utf8mb4");
    EXPECT_STREQ(std::getenv("MYSQL_UNIX_PORT"), "/tmp/m.sock");
    ::unsetenv("MYSQL_UNIX_PORT");
}

TEST(MySqlAddressTest, ASocketNeedsNoHostAndAnIpv6HostLosesItsBrackets) {
    const auto socket = MySqlAddress::parse("mysql://u:p@/db?socket=/run/mysqld.sock", "store.dsn");
    EXPECT_EQ(socket.host, "localhost");
    EXPECT_EQ(socket.socket, "/run/mysqld.sock");
    const auto ipv6 = MySqlAddress::parse("mysql://u:p@[::1]:3307/db", "store.dsn");
    EXPECT_EQ(ipv6.host, "::1");
    EXPECT_EQ(ipv6.port, 3307);
    EXPECT_EQ(MySqlAddress::parse("mysql://u:p@[fe80::1]/db", "store.dsn").port, 3306);
    EXPECT_THROW(MySqlAddress::parse("mysql://u:p@/db", "store.dsn"), ConfigError);
    EXPECT_THROW(MySqlAddress::parse("mysql://u:p@[::1/db", "store.dsn"), ConfigError);
    EXPECT_THROW(MySqlAddress::parse("mysql://u:p@[::1]x/db", "store.dsn"), ConfigError);
}

TEST(MySqlAddressTest, TheStoreRefusesWhatPocosConnectionStringWouldChange) {
    for (const std::string text : {"mysql://u:p@evil;compress=1:3306/db", "mysql://u:%20topsecret@db.internal/store",
                                   "mysql://u:topsecret%20@db.internal/store", "mysql://u:p@db.internal/st;ore"}) {
        try {
            mysqlConnectionString(text);
            ADD_FAILURE() << "accepted " << text;
        } catch (const ConfigError& error) {
            EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
        }
    }
}

TEST(MySqlAddressTest, TheStoreRefusesASemicolonThatWouldInjectAConnectorKey) {
    try {
        mysqlConnectionString("mysql://writer:top%3Bsecret;host=evil@db.internal/store");
        ADD_FAILURE() << "accepted a ';'";
    } catch (const ConfigError& error) {
        EXPECT_EQ(std::string(error.what()).rfind("store.dsn: ", 0), 0u) << error.what();
        EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
        EXPECT_EQ(std::string(error.what()).find("top;secret"), std::string::npos) << error.what();
    }
    EXPECT_THROW(openStore("postgres://u:p@h/db", 1), ConfigError);
}

}  // namespace
}  // namespace bridge
