#include "migrations/LegacyDryRun.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "mappings/ConnectionNames.h"
#include "migrations/RunUntilADatabaseFails.h"

namespace bridge::migrations {

std::string DryRunSummary::line() const {
    return "dry run: would migrate " + std::to_string(wouldMigrate) + ", skipped " + std::to_string(skipped) +
           ", nothing written";
}

int DryRunSummary::exitCode() const {
    if (abortedBecause) return 1;
    return skipped > 0 ? 3 : 0;
}

LegacyDryRun::LegacyDryRun(const LegacyOrganizationTranslator& translator, std::ostream& report,
                           std::shared_ptr<spdlog::logger> log)
    : translator_(translator), report_(report), log_(std::move(log)) {}

DryRunSummary LegacyDryRun::run(LegacyReader& reader, MigrationProgress& progress) {
    DryRunSummary summary;
    summary.abortedBecause = runUntilADatabaseFails([&] {
        for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
            const auto organizations = static_cast<std::int64_t>(batch.organizations.size());
            report(std::move(batch), summary);
            progress.advance(organizations);
        }
    });
    progress.finish();
    if (summary.abortedBecause) log_->error("dry run stopped: {}", *summary.abortedBecause);
    report_ << summary.line() << std::endl;
    return summary;
}

void LegacyDryRun::report(LegacyBatch&& batch, DryRunSummary& summary) {
    // The lines of the ids with no organization to migrate, to go among the organizations' in id order, as a
    // migration reports them.
    struct Absent {
        std::int64_t orgId = 0;
        std::string line;
        bool skipped = true;
    };
    std::vector<Absent> absent;
    for (const auto& orphan : batch.orphans) {
        absent.push_back({orphan.orgId, LegacyOrganizationTranslator::orphanLine(orphan), true});
    }
    for (const auto orgId : batch.notFound) {
        absent.push_back({orgId, LegacyOrganizationTranslator::notFoundLine(orgId), false});
    }
    std::sort(absent.begin(), absent.end(), [](const auto& a, const auto& b) { return a.orgId < b.orgId; });
    auto nextAbsent = absent.begin();
    const auto reportAbsentBefore = [&](std::int64_t orgId) {
        for (; nextAbsent != absent.end() && nextAbsent->orgId < orgId; ++nextAbsent) {
            report_ << nextAbsent->line << "\n";
            if (nextAbsent->skipped) ++summary.skipped;
        }
    };
    for (auto& legacy : batch.organizations) {
        const std::int64_t orgId = legacy.row.id;
        reportAbsentBefore(orgId);
        const auto translated = translator_.translate(std::move(legacy));
        for (const auto& warning : translated.warnings) log_->warn("{}", warning);
        if (translated.migrated) {
            const auto& migrated = *translated.migrated;
            const auto status = migrated.connection ? migrated.connection->status : ConnectionStatus::NotConnected;
            ++summary.wouldMigrate;
            report_ << "would migrate organization " << orgId << ": " << migrated.users.size()
                    << (migrated.users.size() == 1 ? " user" : " users") << ", connection "
                    << mappings::legacyStatusName(status) << "\n";
        }
        for (const auto& line : translated.skipped) {
            report_ << line << "\n";
            ++summary.skipped;
        }
    }
    reportAbsentBefore(std::numeric_limits<std::int64_t>::max());
}

}  // namespace bridge::migrations
