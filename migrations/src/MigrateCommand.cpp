#include "migrations/MigrateCommand.h"

#include <cppconn/exception.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <ctime>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/StoreFactory.h"
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

int runMigrateCommand(const Config& config, bool verify, std::ostream& out, std::ostream& err) {
    if (config.legacy.dsn.empty()) throw ConfigError("legacy.dsn: required by migrate");
    if (config.migrate.batchSize < 1) throw ConfigError("migrate.batchSize: must be at least 1");
    const auto legacyDsn = MySqlDsn::parse(config.legacy.dsn, "legacy.dsn");
    const LegacyTokenDecryptor decryptor(config.legacy.tokenKeys);
    const TokenCipher cipher = storeCipher(config.crypto);
    auto log = logger("migrate");

    try {
        auto store = openStore(config.store.dsn, kStorePoolSize, config.store.timeout);
        upgradeSchema(*store);
        LegacyReader reader(legacyDsn, config.migrate.batchSize);
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
        if (verify) {
            log->info("verifying the store against {}", legacyDsn.redacted());
        } else {
            log->info("migrating {} into the store", legacyDsn.redacted());
        }
        if (verify) {
            return LegacyVerifier(*store, translator, cipher, config.firstNewLegacyId, out)
                .run(reader, progress)
                .exitCode();
        }
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
