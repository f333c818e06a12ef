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

MigrationSummary LegacyMigrator::run(LegacyReader& reader, MigrationProgress& progress) {
    MigrationSummary summary;
    try {
        // The next batch is read from the legacy database while this one is written to the store.
        auto next = std::async(std::launch::async, [&reader] { return reader.nextOrganizations(); });
        while (true) {
            auto batch = next.get();
            if (batch.empty()) break;
            next = std::async(std::launch::async, [&reader] { return reader.nextOrganizations(); });
            for (const auto& organization : batch) migrate(organization, summary);
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

void LegacyMigrator::migrate(const LegacyOrganization& organization, MigrationSummary& summary) {
    auto translated = translator_.translate(organization);
    for (const auto& warning : translated.warnings) log_->warn("{}", warning);
    if (!translated.migrated) {
        for (const auto& line : translated.skipped) reportSkipped(line, summary);
        return;
    }
    MigrationWrite result;
    try {
        result = writeRetrying(*translated.migrated);
    } catch (const Error& error) {
        if (error.code() == ErrorCode::StoreUnavailable) throw;
        ++summary.failed;
        report_ << "failed organization " << organization.row.id << ": " << error.what() << "\n";
        return;
    } catch (const std::exception& error) {
        ++summary.failed;
        report_ << "failed organization " << organization.row.id << ": " << error.what() << "\n";
        return;
    }
    switch (result) {
        case MigrationWrite::Conflict:
            reportSkipped("skipped organization " + std::to_string(organization.row.id) +
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

MigrationWrite LegacyMigrator::writeRetrying(const MigratedOrganization& migrated) {
    const auto giveUpAt = std::chrono::steady_clock::now() + storeRetryBudget_;
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstRetryDelay);
    while (true) {
        try {
            return store_.writeMigratedOrganization(migrated);
        } catch (const Error& error) {
            if (error.code() != ErrorCode::StoreUnavailable || std::chrono::steady_clock::now() + delay > giveUpAt) {
                throw;
            }
            log_->warn("store unavailable, retrying organization {} in {} ms", migrated.organization.legacyId,
                       delay.count());
        }
        std::this_thread::sleep_for(delay);
        delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kLongestRetryDelay));
    }
}

void LegacyMigrator::reportSkipped(const std::string& line, MigrationSummary& summary) {
    ++summary.skipped;
    report_ << line << "\n";
}

}  // namespace bridge::migrations
