#include "migrations/LegacyMigrator.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <future>
#include <limits>
#include <thread>

#include "bridge/base/Error.h"
#include "migrations/RunUntilADatabaseFails.h"

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
            const auto now = std::chrono::steady_clock::now();
            if (error.code() != ErrorCode::StoreUnavailable || now >= giveUpAt) throw;
            // The last pause ends at the deadline, for one more try there.
            delay = std::min(delay, std::chrono::ceil<std::chrono::milliseconds>(giveUpAt - now));
            log_->warn("store unavailable, retrying in {} ms", delay.count());
        }
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kLongestRetryDelay));
    }
}

MigrationSummary LegacyMigrator::run(LegacyReader& reader, MigrationProgress& progress) {
    MigrationSummary summary;
    summary.abortedBecause = runUntilADatabaseFails([&] {
        // Three steps overlap: while batch k is written to the store, batch k+1 is translated and batch k+2 is
        // read. Reading mostly waits for the legacy server, translating and writing keep a core busy each.
        std::future<LegacyBatch> read = std::async(std::launch::async, [&reader] { return reader.nextBatch(); });
        // Runs on one thread at a time (each is started after the last one's result was taken), as does `read`.
        const auto translateNext = [&] {
            LegacyBatch legacy = read.get();
            if (!legacy.empty()) read = std::async(std::launch::async, [&reader] { return reader.nextBatch(); });
            return translate(std::move(legacy));
        };
        auto next = std::async(std::launch::async, translateNext);
        TranslatedBatch written;
        while (true) {
            TranslatedBatch batch = next.get();
            if (batch.empty()) break;
            // The batch written last goes to the translating thread to be freed there, where it was allocated,
            // rather than on the writer's.
            next = std::async(std::launch::async, [&translateNext, done = std::move(written)]() mutable {
                done = TranslatedBatch{};
                return translateNext();
            });
            migrateBatch(batch, summary);
            progress.advance(static_cast<std::int64_t>(batch.organizations.size()));
            written = std::move(batch);
        }
    });
    progress.finish();
    if (summary.abortedBecause) log_->error("migration stopped: {}; run it again to go on", *summary.abortedBecause);
    report_ << summary.line() << std::endl;
    return summary;
}

LegacyMigrator::TranslatedBatch LegacyMigrator::translate(LegacyBatch&& legacyBatch) const {
    TranslatedBatch batch;
    batch.organizations.reserve(legacyBatch.organizations.size());
    batch.writes.reserve(legacyBatch.organizations.size());
    for (auto& legacy : legacyBatch.organizations) {
        const std::int64_t orgId = legacy.row.id;
        auto translated = translator_.translate(std::move(legacy));
        batch.organizations.push_back(
            {orgId, translated.migrated.has_value(), std::move(translated.skipped), std::move(translated.warnings)});
        if (translated.migrated) batch.writes.push_back(std::move(*translated.migrated));
    }
    for (const auto& orphan : legacyBatch.orphans) {
        batch.orphans.push_back({orphan.orgId, LegacyOrganizationTranslator::orphanLine(orphan), true});
    }
    for (const auto orgId : legacyBatch.notFound) {
        batch.orphans.push_back({orgId, LegacyOrganizationTranslator::notFoundLine(orgId), false});
    }
    std::sort(batch.orphans.begin(), batch.orphans.end(),
              [](const auto& a, const auto& b) { return a.orgId < b.orgId; });
    return batch;
}

void LegacyMigrator::migrateBatch(const TranslatedBatch& batch, MigrationSummary& summary) {
    for (const auto& organization : batch.organizations) {
        for (const auto& warning : organization.warnings) log_->warn("{}", warning);
    }
    // One store transaction for the whole batch; if it fails for a reason other than the store being away, the
    // organizations are written one by one so that only the faulty one is reported failed.
    std::vector<MigrationWrite> outcomes;
    try {
        if (!batch.writes.empty()) {
            outcomes = retryingWhileStoreIsAway([&] { return store_.writeMigratedOrganizations(batch.writes); });
        }
    } catch (const Error& error) {
        if (error.code() == ErrorCode::StoreUnavailable) throw;
        log_->warn("batch write failed ({}); writing its organizations one by one", error.what());
    } catch (const std::exception& error) {
        log_->warn("batch write failed ({}); writing its organizations one by one", error.what());
    }
    // The report goes in organization id order, orphans among the others, whatever the batch size.
    auto nextOrphan = batch.orphans.begin();
    const auto reportOrphansBefore = [&](std::int64_t orgId) {
        for (; nextOrphan != batch.orphans.end() && nextOrphan->orgId < orgId; ++nextOrphan) {
            if (nextOrphan->skipped) {
                reportSkipped(nextOrphan->line, summary);
            } else {
                report_ << nextOrphan->line << "\n";
            }
        }
    };
    std::size_t nextWrite = 0;
    for (const auto& organization : batch.organizations) {
        reportOrphansBefore(organization.orgId);
        if (!organization.migrates) {
            for (const auto& line : organization.skipped) reportSkipped(line, summary);
            continue;
        }
        const std::size_t write = nextWrite++;
        if (outcomes.empty()) {
            migrate(organization, batch.writes[write], summary);
        } else {
            report(organization, outcomes[write], summary);
        }
    }
    reportOrphansBefore(std::numeric_limits<std::int64_t>::max());
}

void LegacyMigrator::migrate(const TranslatedBatch::Organization& organization, const MigratedOrganization& migrated,
                             MigrationSummary& summary) {
    MigrationWrite result;
    try {
        result = retryingWhileStoreIsAway([&] { return store_.writeMigratedOrganization(migrated); });
    } catch (const Error& error) {
        if (error.code() == ErrorCode::StoreUnavailable) throw;
        ++summary.failed;
        report_ << "failed organization " << organization.orgId << ": " << error.what() << "\n";
        return;
    } catch (const std::exception& error) {
        ++summary.failed;
        report_ << "failed organization " << organization.orgId << ": " << error.what() << "\n";
        return;
    }
    report(organization, result, summary);
}

void LegacyMigrator::report(const TranslatedBatch::Organization& organization, MigrationWrite result,
                            MigrationSummary& summary) {
    switch (result) {
        case MigrationWrite::Conflict:
            reportSkipped("skipped organization " + std::to_string(organization.orgId) +
                              ": conflict: its id, one of its users' ids or one of its users' emails is held by "
                              "data the migrator did not create",
                          summary);
            return;
        case MigrationWrite::Written: ++summary.migrated; break;
        case MigrationWrite::AlreadyCurrent: ++summary.alreadyCurrent; break;
    }
    for (const auto& line : organization.skipped) reportSkipped(line, summary);
}

void LegacyMigrator::reportSkipped(const std::string& line, MigrationSummary& summary) {
    ++summary.skipped;
    report_ << line << "\n";
}

}  // namespace bridge::migrations
