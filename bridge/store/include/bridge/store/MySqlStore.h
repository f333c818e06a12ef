#pragma once

#include <Poco/Data/Session.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "bridge/store/SqlStore.h"

namespace bridge {

// The shared store when several instances run: MySQL or MariaDB, InnoDB, utf8mb4.
class MySqlStore : public SqlStore {
public:
    // connectionString in Poco::Data::MySQL's form ("host=...;port=...;user=...;password=...;db=...").
    // `timeout` bounds each read and write on a connection (store.timeout): a frozen server or a half-open
    // connection fails the request as StoreUnavailable instead of holding its thread.
    MySqlStore(const std::string& connectionString, int poolSize, std::chrono::seconds timeout);
    ~MySqlStore() override;

    std::string_view sqlDialect() const override { return "mysql"; }

protected:
    Poco::Data::Session openSession() override;
    void releaseSession(Poco::Data::Session& session, bool broken) override;
    std::string_view beginWrite() const override { return "START TRANSACTION"; }
    std::string_view lockRows() const override { return " FOR UPDATE"; }
    bool isDuplicateKey(const Poco::Exception& error) const override;
    // The server's clock (NOW(3)'s), read in UTC so that no time zone's fold makes it step back.
    std::string_view databaseNowMs() const override {
        return "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(3)) DIV 1000 AS SIGNED)";
    }
    void withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) override;

private:
    // Idle connections, most recently used last. Not Poco's SessionPool: it cannot be told that a connection died
    // (the server restarted), and without auto-reconnect (which would run the rest of a transaction outside it)
    // a dead connection must be dropped, not reused.
    const std::string connectionString_;
    const std::size_t maxIdle_;
    const std::chrono::seconds timeout_;
    std::mutex mutex_;
    std::vector<Poco::Data::Session> idle_;
};

}  // namespace bridge
