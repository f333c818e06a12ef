// SqlStore's session and transaction wrappers. Templates, so every SqlStore*.cpp that runs a query includes them;
// private to the store.
#pragma once

#include <Poco/Data/Session.h>

#include <mutex>
#include <optional>
#include <type_traits>

#include "DuplicateKey.h"
#include "SqlValues.h"
#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/store/SqlStore.h"

namespace bridge {

namespace sql {

// Rolls back the session's transaction; a failure only means the connection is gone with it.
void rollbackQuietly(Poco::Data::Session& session);

}  // namespace sql

template <typename Work>
auto SqlStore::withSession(Work&& work, SessionUse use) {
    // Hands the session back to the backend on every way out, telling it whether the connection still works.
    struct Lease {
        SqlStore& store;
        std::optional<Poco::Data::Session> session;
        bool broken = false;
        ~Lease() {
            if (session) store.releaseSession(*session, broken);
        }
    } lease{*this, std::nullopt};
    try {
        lease.session.emplace(use == SessionUse::BulkWrite ? openBulkSession() : openSession());
        return work(*lease.session);
    } catch (const Error&) {
        throw;
    } catch (const Poco::Exception& error) {
        if (isDuplicateKey(error)) {
            logger("store")->debug("write refused by a unique key: {}", error.displayText());
            throw sql::DuplicateKey();
        }
        lease.broken = true;
        logger("store")->error("store unavailable: {}", error.displayText());
        throw Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.");
    }
}

template <typename Work>
auto SqlStore::inTransaction(Work&& work, SessionUse use) {
    std::unique_lock<std::mutex> serialized;
    if (std::mutex* writers = writeSerializer()) serialized = std::unique_lock(*writers);
    return withSession(
        [&](Poco::Data::Session& session) {
            session << std::string(beginWrite()), Poco::Data::Keywords::now;
            try {
                if constexpr (std::is_void_v<std::invoke_result_t<Work&, Poco::Data::Session&>>) {
                    work(session);
                    session << "COMMIT", Poco::Data::Keywords::now;
                } else {
                    auto result = work(session);
                    session << "COMMIT", Poco::Data::Keywords::now;
                    return result;
                }
            } catch (...) {
                sql::rollbackQuietly(session);
                throw;
            }
        },
        use);
}

}  // namespace bridge
