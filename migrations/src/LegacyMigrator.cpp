#include "migrations/LegacyMigrator.h"

#include <cppconn/exception.h>
#include <spdlog/logger.h>

#include <future>
#include <thread>

#include "bridge/Error.h"

namespace bridge::migrations {

namespace {

constexpr auto kFirstRetryDelay = std::chrono::milliseconds(250);
constexpr auto kLongestRetryDelay = std::chrono::seconds(5);

}  // namespace

std::string MigrationSummary::line() const {
    return "migrated " + std::to_string(migrated) + ", already current " + std::to_string(alreadyCurrent) +
           ", skipped " + std::to_string(skipped) + ", failed " + std::to_string(failed);
}

int MigrationSummary::exitCode() const {
    if (abortedBecause) return 1;
    return skipped > 0 || failed > 0 ? 3 : 0;
}

LegacyMigrator::LegacyMigrator(Store& store, const LegacyOrganizationTranslator& translator, std::ostream& report,
                               std::shared_ptr<spdlog::logger> log, std::chrono::milliseconds storeRetryBudget)
    : store_(store),
      translator_(translator),
      report_(report),
      log_(std::move(log)),
      storeRetryBudget_(storeRetryBudget) {}

template <typename Write>
auto LegacyMigrator::retryingWhileStoreIsAway(Write&& write) {
    const auto giveUpAt = std::chrono::steady_clock::now() + storeRetryBudget_;
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstRetryDelay);
    while (true) {
        try {
            return write();
        } catch (const Error& error) {
            if (error.code() != ErrorCode::StoreUnavailable || std::chrono::steady_clock::now() + delay > giveUpAt) {
                throw;
            }
            log_->warn("store unavailable, retrying in {} ms", delay.count());
        }
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kLongestRetryDelay));
    }
}

MigrationSummary LegacyMigrator::run(LegacyReader& reader, MigrationProgress& progress) {
    MigrationSummary summary;
    try {
        // The next batch is read from the legacy database while this one is written to the store.
        auto next = std::async(std::launch::async, [&reader] { return reader.nextOrganizations(); });
        while (true) {
            auto batch = next.get();
            if (batch.empty()) break;
            next = std::async(std::launch::async, [&reader] { return reader.nextOrganizations(); });
            migrateBatch(batch, summary);
            progress.advance(static_cast<std::int64_t>(batch.size()));
        }
        for (auto orphans = reader.nextOrphans(); !orphans.empty(); orphans = reader.nextOrphans()) {
            for (const auto& orphan : orphans) reportSkipped(LegacyOrganizationTranslator::orphanLine(orphan), summary);
        }
    } catch (const sql::SQLException& error) {
        summary.abortedBecause = "the legacy database failed: " + std::string(error.what());
    } catch (const Error& error) {
        if (error.code() != ErrorCode::StoreUnavailable) throw;
        summary.abortedBecause = "the store is unavailable: " + std::string(error.what());
    }
    progress.finish();
    if (summary.abortedBecause) log_->error("migration stopped: {}; run it again to go on", *summary.abortedBecause);
    report_ << summary.line() << std::endl;
    return summary;
}

void LegacyMigrator::migrateBatch(const std::vector<LegacyOrganization>& batch, MigrationSummary& summary) {
    std::vector<TranslatedOrganization> translated;
    translated.reserve(batch.size());
    std::vector<MigratedOrganization> writes;
    for (const auto& organization : batch) {
        translated.push_back(translator_.translate(organization));
        for (const auto& warning : translated.back().warnings) log_->warn("{}", warning);
        if (translated.back().migrated) writes.push_back(*translated.back().migrated);
    }
    // One store transaction for the whole batch; if it fails for a reason other than the store being away, the
    // organizations are written one by one so that only the faulty one is reported failed.
    std::vector<MigrationWrite> outcomes;
    try {
        outcomes = retryingWhileStoreIsAway([&] { return store_.writeMigratedOrganizations(writes); });
    } catch (const Error& error) {
        if (error.code() == ErrorCode::StoreUnavailable) throw;
        log_->warn("batch write failed ({}); writing its organizations one by one", error.what());
    } catch (const std::exception& error) {
        log_->warn("batch write failed ({}); writing its organizations one by one", error.what());
    }
    std::size_t nextOutcome = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!translated[i].migrated) {
            for (const auto& line : translated[i].skipped) reportSkipped(line, summary);
            continue;
        }
        if (outcomes.empty()) {
            migrate(batch[i].row.id, translated[i], summary);
        } else {
            report(batch[i].row.id, outcomes[nextOutcome++], translated[i], summary);
        }
    }
}

void LegacyMigrator::migrate(std::int64_t orgId, const TranslatedOrganization& translated, MigrationSummary& summary) {
    MigrationWrite result;
    try {
        result = retryingWhileStoreIsAway([&] { return store_.writeMigratedOrganization(*translated.migrated); });
    } catch (const Error& error) {
        if (error.code() == ErrorCode::StoreUnavailable) throw;
        ++summary.failed;
        report_ << "failed organization " << orgId << ": " << error.what() << "\n";
        return;
    } catch (const std::exception& error) {
        ++summary.failed;
        report_ << "failed organization " << orgId << ": " << error.what() << "\n";
        return;
    }
    report(orgId, result, translated, summary);
}

void LegacyMigrator::report(std::int64_t orgId, MigrationWrite result, const TranslatedOrganization& translated,
                            MigrationSummary& summary) {
    switch (result) {
        case MigrationWrite::Conflict:
            reportSkipped("skipped organization " + std::to_string(orgId) +
                              ": conflict: its id or one of its users' ids is held by data the migrator did not "
                              "create",
                          summary);
            return;
        case MigrationWrite::Written:
            ++summary.migrated;
            break;
        case MigrationWrite::AlreadyCurrent:
            ++summary.alreadyCurrent;
            break;
    }
    for (const auto& line : translated.skipped) reportSkipped(line, summary);
}

void LegacyMigrator::reportSkipped(const std::string& line, MigrationSummary& summary) {
    ++summary.skipped;
    report_ << line << "\n";
}

}  // namespace bridge::migrations
