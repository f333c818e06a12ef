#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/Store.h"

namespace bridge {

// Re-seals every stored secret (refresh tokens, access tokens, OAuth code verifiers) under the cipher's active
// key, a batch per transaction, while instances keep serving. Each row is rewritten only if it still holds the
// ciphertext that was read, so a concurrent refresh or login always wins; a refresh token is left alone while a
// refresh of its organization is in flight, and taken again by a later pass. Killed at any point, a new run
// carries on: rows already under the active key are not read again.
class StoreRekey {
public:
    struct Summary {
        std::int64_t rewritten = 0;       // re-sealed under the active key by this run
        std::int64_t alreadyCurrent = 0;  // under the active key before this run began
        std::int64_t skipped = 0;         // do not open with the configured keys (one "skipped ..." line each)
        std::int64_t busy = 0;            // changed or in a refresh on every pass: still under an older key
        std::int64_t failed = 0;          // in the batch the store failed on
        std::string failure;              // the store's error when it failed, else empty

        // 0 every value under the active key, 1 the store failed, 3 values left under other keys.
        int exitCode() const;
        // "rewritten <n>, already current <n>, skipped <n>, busy <n>, failed <n>"
        std::string line() const;
    };
    struct Settings {
        int batchSize = 500;
        int passes = 5;  // walks per column, until a walk leaves nothing behind
        std::chrono::milliseconds pauseBetweenPasses{500};
    };
    // Called after each batch with the values handled so far.
    using Progress = std::function<void(std::int64_t handled)>;

    // `report` receives one "skipped ..." line per value that does not open (never a token).
    StoreRekey(Store& store, const TokenCipher& cipher, Settings settings, std::ostream& report);

    // How many values are under another key than the active one (the progress total).
    std::int64_t countToRewrite();
    // A store failure ends the run: the batch it hit counts as failed, and the summary says what was done.
    Summary run(const Progress& progress);

private:
    void rekeyColumn(SealedColumn column, Summary& summary, std::int64_t& handled, const Progress& progress);

    Store& store_;
    const TokenCipher& cipher_;
    Settings settings_;
    std::ostream& report_;
};

}  // namespace bridge
