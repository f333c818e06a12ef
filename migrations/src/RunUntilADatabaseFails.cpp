#include "migrations/RunUntilADatabaseFails.h"

#include <cppconn/exception.h>

#include "bridge/base/Error.h"

namespace bridge::migrations {

std::optional<std::string> runUntilADatabaseFails(const std::function<void()>& work) {
    try {
        work();
    } catch (const sql::SQLException& error) {
        return "the legacy database failed: " + std::string(error.what());
    } catch (const Error& error) {
        if (error.code() != ErrorCode::StoreUnavailable) throw;
        return "the store is unavailable (its log lines say why)";
    }
    return std::nullopt;
}

}  // namespace bridge::migrations
