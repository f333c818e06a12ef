#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bridge/store/Model.h"
#include "bridge/store/Store.h"

namespace bridge {

// The local file where a rotated refresh token waits when the store could not take it before its lease ended
// (salesforce.refreshRecoveryFile): one JSON object a line, with the organization, the ciphertext the connection
// held when it was presented, the rotated token's ciphertext and key id, and when. Sealed values only, never a token
// in the clear; mode 0600, each entry synced to disk before the refresh answers. Several processes may share the
// file: every access holds an exclusive flock on it. Thread-safe.
class RefreshTokenRecovery {
public:
    struct Entry {
        RotatedRefreshToken rotation;  // leaseOwner left empty
        UnixSeconds keptAt = 0;
    };

    explicit RefreshTokenRecovery(std::string path);

    const std::string& path() const { return path_; }
    // Appends the entry and syncs it; throws std::runtime_error (with errno's words) when it cannot.
    void keep(const Entry& entry);
    // Calls `apply` on every entry in the order kept; keeps those for which it answers false (to try again later)
    // and removes the others. An exception from `apply` keeps that entry and every later one. Returns the entries
    // kept (a line that does not parse is kept too, and logged, but not returned).
    std::vector<Entry> reapply(const std::function<bool(const Entry&)>& apply);

private:
    const std::string path_;
    std::mutex mutex_;
};

}  // namespace bridge
