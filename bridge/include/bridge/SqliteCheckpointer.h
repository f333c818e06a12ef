#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace bridge {

// Copies a WAL database's committed pages into the database file on a thread and connection of its own, while the
// writer goes on. A bulk writer that checkpoints itself (SQLite's autocheckpoint runs in the committing thread)
// stops writing for as long as the copy takes: a fifth of a large migration's writing time. Passive checkpoints
// only, which never wait for, or make wait, a reader or a writer; the writer's own autocheckpoint stays as the bound
// on the WAL's size when this one falls behind.
class SqliteCheckpointer {
public:
    explicit SqliteCheckpointer(std::string path);
    // Stops the thread (after the checkpoint under way, if any) and closes its connection.
    ~SqliteCheckpointer();
    SqliteCheckpointer(const SqliteCheckpointer&) = delete;
    SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

    // Pages were committed: copy them soon. Returns at once.
    void requestCheckpoint();

private:
    void run();

    std::string path_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool requested_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace bridge
