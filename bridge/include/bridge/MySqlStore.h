#pragma once

#include <Poco/Data/SessionPool.h>

#include <string>

#include "bridge/SqlStore.h"

namespace bridge {

// The shared store when several instances run: MySQL or MariaDB, InnoDB, utf8mb4.
class MySqlStore : public SqlStore {
public:
    // connectionString in Poco::Data::MySQL's form ("host=...;port=...;user=...;password=...;db=...").
    MySqlStore(const std::string& connectionString, int poolSize);
    ~MySqlStore() override;

    std::string_view sqlDialect() const override { return "mysql"; }

protected:
    Poco::Data::Session openSession() override;
    std::string_view beginWrite() const override { return "START TRANSACTION"; }
    std::string_view lockRows() const override { return " FOR UPDATE"; }
    bool isDuplicateKey(const Poco::Exception& error) const override;
    void withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) override;

private:
    Poco::Data::SessionPool pool_;
};

}  // namespace bridge
