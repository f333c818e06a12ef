#include "bridge/store/SqliteCheckpointer.h"

#include <sqlite3.h>

#include "bridge/base/Logging.h"

namespace bridge {

SqliteCheckpointer::SqliteCheckpointer(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}

SqliteCheckpointer::~SqliteCheckpointer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void SqliteCheckpointer::requestCheckpoint() {
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
    }
    wake_.notify_one();
}

void SqliteCheckpointer::watch(sqlite3* writer) { sqlite3_wal_hook(writer, &SqliteCheckpointer::onCommit, this); }

int SqliteCheckpointer::onCommit(void* checkpointer, sqlite3* writer, const char* database, int walPages) {
    auto& self = *static_cast<SqliteCheckpointer*>(checkpointer);
    if (walPages >= kMostWalPages) {
        // SQLITE_BUSY (the background checkpoint is running) leaves it to that one.
        sqlite3_wal_checkpoint_v2(writer, database, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        self.walPagesAtLastRequest_ = 0;
        return SQLITE_OK;
    }
    if (walPages < self.walPagesAtLastRequest_) self.walPagesAtLastRequest_ = 0;  // the WAL started over
    if (walPages - self.walPagesAtLastRequest_ >= kPagesBetweenCheckpoints) {
        self.requestCheckpoint();
        self.walPagesAtLastRequest_ = walPages;
    }
    return SQLITE_OK;
}

void SqliteCheckpointer::run() {
    sqlite3* database = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &database, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        // Nothing is lost: a watched writer checkpoints itself past kMostWalPages, the others as they always do.
        logger("store")->warn("the background checkpointer cannot open the store: {}", sqlite3_errmsg(database));
        sqlite3_close_v2(database);
        return;
    }
    // A connection opens the WAL when it first reads; until then a checkpoint through it does nothing.
    if (sqlite3_exec(database, "SELECT COUNT(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK) {
        logger("store")->warn("the background checkpointer cannot read the store: {}", sqlite3_errmsg(database));
    }
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return requested_ || stopping_; });
        if (stopping_) break;
        requested_ = false;
        lock.unlock();
        // SQLITE_BUSY (another checkpoint is running) or a failure: the next request or an autocheckpoint retries.
        const int result = sqlite3_wal_checkpoint_v2(database, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (result != SQLITE_OK && result != SQLITE_BUSY) {
            logger("store")->debug("background checkpoint failed: {}", sqlite3_errstr(result));
        }
        lock.lock();
    }
    lock.unlock();
    sqlite3_close_v2(database);
}

}  // namespace bridge
