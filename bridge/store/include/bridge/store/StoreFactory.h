#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bridge/base/Config.h"
#include "bridge/store/Store.h"

namespace bridge {

// Opens the store a DSN names: "sqlite:PATH" or "mysql://USER:PASS@HOST:PORT/DB" (also "?socket=PATH").
// A DSN of neither form throws ConfigError; an unreachable database throws Error(StoreUnavailable) on first use.
// `timeout` bounds every wait on the database (store.timeout): a MySQL read or write, SQLite's busy wait.
std::unique_ptr<Store> openStore(const std::string& dsn, int poolSize,
                                 std::chrono::seconds timeout = StoreConfig{}.timeout);

// "mysql://..." in Poco::Data::MySQL's connection-string form, for the store and the tests.
std::string mysqlConnectionString(const std::string& dsn);

}  // namespace bridge
