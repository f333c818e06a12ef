#include "migrations/MigrateCommand.h"

#include <cppconn/exception.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <ctime>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/LegacyDryRun.h"
#include "migrations/LegacyMigrator.h"
#include "migrations/LegacyReader.h"
#include "migrations/LegacyTokenDecryptor.h"
#include "migrations/LegacyVerifier.h"
#include "migrations/MySqlDsn.h"
#include "migrations/SchemaCatalog.h"

namespace bridge::migrations {

namespace {

constexpr int kStorePoolSize = 2;

TokenCipher storeCipher(const CryptoConfig& crypto) {
    if (crypto.keys.empty()) throw ConfigError("crypto.keys: required to re-encrypt the migrated tokens");
    try {
        return TokenCipher::fromSpec(crypto.keys, crypto.activeKey);
    } catch (const TokenCipherConfigError& error) {
        throw ConfigError(error.what());
    }
}

}  // namespace

int runMigrateCommand(const Config& config, const MigrateRequest& request, std::ostream& out, std::ostream& err) {
    using Mode = MigrateRequest::Mode;
    if (config.legacy.dsn.empty()) throw ConfigError("legacy.dsn: required by migrate");
    if (config.migrate.batchSize < 1) throw ConfigError("migrate.batchSize: must be at least 1");
    const auto legacyDsn = MySqlDsn::parse(config.legacy.dsn, "legacy.dsn");
    const LegacyTokenDecryptor decryptor(config.legacy.tokenKeys);
    const TokenCipher cipher = storeCipher(config.crypto);
    auto log = logger("migrate");

    try {
        // A dry run writes nothing to the store, not even its schema: it does not open it.
        std::unique_ptr<Store> store;
        if (request.mode != Mode::DryRun) {
            store = openStore(config.store.dsn, kStorePoolSize, config.store.timeout);
            upgradeSchema(*store);
        }
        LegacyReader reader(legacyDsn, config.migrate.batchSize, request.selection);
        const LegacyOrganizationTranslator translator(decryptor, cipher, std::time(nullptr));

        const bool terminal = ::isatty(STDERR_FILENO) == 1;
        MigrationProgress progress(
            reader.countOrganizations(),
            terminal ? MigrationProgress::Style::LiveBar : MigrationProgress::Style::PeriodicLines,
            [&](std::string_view text) {
                if (terminal) {
                    err << text << std::flush;
                } else {
                    log->info("{}", text);
                }
            });
        const std::string what = request.selection ? std::to_string(request.selection->ids().size()) +
                                                         " selected organizations of " + legacyDsn.redacted()
                                                   : legacyDsn.redacted();
        switch (request.mode) {
            case Mode::Verify:
                log->info("verifying the store against {}", what);
                return LegacyVerifier(*store, translator, cipher, config.firstNewLegacyId, out)
                    .run(reader, progress)
                    .exitCode();
            case Mode::DryRun:
                log->info("dry run of the migration of {}: the store is not opened", what);
                return LegacyDryRun(translator, out, log).run(reader, progress).exitCode();
            case Mode::Migrate: break;
        }
        log->info("migrating {} into the store", what);
        return LegacyMigrator(*store, translator, out, log).run(reader, progress).exitCode();
    } catch (const sql::SQLException& error) {
        err << "bridge migrate: the legacy database " << legacyDsn.redacted() << " failed: " << error.what() << "\n";
        return 1;
    } catch (const Error& error) {
        err << "bridge migrate: " << error.what() << "\n";
        return 1;
    }
}

}  // namespace bridge::migrations
