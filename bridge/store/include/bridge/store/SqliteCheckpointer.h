#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace bridge {

// Copies a WAL database's committed pages into the database file on a thread and connection of its own, while the
// writer goes on. A bulk writer that checkpoints itself (SQLite's autocheckpoint runs in the committing thread)
// stops writing for as long as the copy and its fsyncs take: a tenth of a large migration. Passive checkpoints
// only, which never wait for, or make wait, a reader or a writer.
class SqliteCheckpointer {
public:
    explicit SqliteCheckpointer(std::string path);
    // Stops the thread (after the checkpoint under way, if any) and closes its connection.
    ~SqliteCheckpointer();
    SqliteCheckpointer(const SqliteCheckpointer&) = delete;
    SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

    // Pages were committed: copy them soon. Returns at once.
    void requestCheckpoint();

    // Takes over the checkpoints of a connection that writes much (SQLite's autocheckpoint, which it replaces, runs
    // them in the committing thread): every kPagesBetweenCheckpoints pages the connection commits into the WAL, one
    // is requested here; past kMostWalPages, when this thread has fallen behind, the connection checkpoints itself
    // as its autocheckpoint would. Called once; the connection must not commit after the checkpointer is gone.
    void watch(sqlite3* writer);

    static constexpr int kPagesBetweenCheckpoints = 1000;  // SQLite's own autocheckpoint default
    static constexpr int kMostWalPages = 20000;

private:
    void run();
    // sqlite3_wal_hook's callback, on the writing connection's thread.
    static int onCommit(void* checkpointer, sqlite3* writer, const char* database, int walPages);

    std::string path_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool requested_ = false;
    bool stopping_ = false;
    int walPagesAtLastRequest_ = 0;  // the watched connection's; touched on its thread only
    std::thread thread_;
};

}  // namespace bridge
