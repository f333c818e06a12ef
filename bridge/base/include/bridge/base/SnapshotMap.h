#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace bridge {

// In-memory copies of store rows, each used for at most `maxAge` after the store read that produced it began.
// Readers share a lock and copy a pointer. A missing or stale entry is read again by one thread per stripe while
// the others with keys of that stripe wait for it, so a burst of requests costs one store read, not one each.
// forget() also keeps every read under way from caching its result, so a copy read before a change never lands
// after the change was announced.
template <typename Key, typename Snapshot>
class SnapshotMap {
public:
    using Clock = std::chrono::steady_clock;
    using Pointer = std::shared_ptr<const Snapshot>;

    explicit SnapshotMap(Clock::duration maxAge) : maxAge_(maxAge) {}

    SnapshotMap(const SnapshotMap&) = delete;
    SnapshotMap& operator=(const SnapshotMap&) = delete;

    // The key's snapshot, read with `load(const Snapshot* previousOrNull) -> Pointer` when missing or stale.
    // A null Pointer from load means the row does not exist; it is not cached. load may throw; nothing changes then.
    template <typename Load>
    Pointer get(const Key& key, Load&& load) {
        if (Pointer fresh = findFresh(key)) return fresh;
        std::lock_guard reloading(reloadStripes_[std::hash<Key>{}(key) % kReloadStripes]);
        if (Pointer fresh = findFresh(key)) return fresh;  // another thread of this stripe just read it

        const Clock::time_point readStarted = Clock::now();
        std::uint64_t generationAtRead = 0;
        Pointer previous;
        {
            std::shared_lock lock(mutex_);
            generationAtRead = generation_;
            if (auto entry = entries_.find(key); entry != entries_.end()) previous = entry->second.snapshot;
        }
        Pointer loaded = load(previous.get());

        std::unique_lock lock(mutex_);
        if (generation_ != generationAtRead) return loaded;  // forgotten meanwhile: serve it once, cache nothing
        if (!loaded) {
            entries_.erase(key);
            return loaded;
        }
        entries_.insert_or_assign(key, Entry{loaded, readStarted});
        if (++insertsSinceSweep_ >= kSweepEveryInserts) sweepStale(Clock::now());
        return loaded;
    }

    void forget(const Key& key) {
        std::unique_lock lock(mutex_);
        ++generation_;
        entries_.erase(key);
    }

private:
    static constexpr std::size_t kReloadStripes = 64;
    // Stale entries are never served again, so dropping them now and then bounds the map by what was used lately.
    static constexpr std::size_t kSweepEveryInserts = 4096;

    struct Entry {
        Pointer snapshot;
        Clock::time_point readAt;
    };

    Pointer findFresh(const Key& key) const {
        const Clock::time_point now = Clock::now();
        std::shared_lock lock(mutex_);
        auto entry = entries_.find(key);
        if (entry == entries_.end() || now - entry->second.readAt >= maxAge_) return nullptr;
        return entry->second.snapshot;
    }

    void sweepStale(Clock::time_point now) {
        std::erase_if(entries_, [&](const auto& entry) { return now - entry.second.readAt >= maxAge_; });
        insertsSinceSweep_ = 0;
    }

    const Clock::duration maxAge_;
    mutable std::shared_mutex mutex_;
    std::unordered_map<Key, Entry> entries_;
    std::uint64_t generation_ = 0;  // bumped by forget()
    std::size_t insertsSinceSweep_ = 0;
    std::array<std::mutex, kReloadStripes> reloadStripes_;
};

}  // namespace bridge
