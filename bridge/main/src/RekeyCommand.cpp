#include "app/RekeyCommand.h"

#include <unistd.h>

#include "app/Commands.h"
#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/services/StoreRekey.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/MigrationProgress.h"
#include "migrations/SchemaCatalog.h"

namespace bridge::app {

namespace {

constexpr int kStorePoolSize = 2;

}  // namespace

int runRekeyCommand(const Config& config, int batchSize, std::ostream& out, std::ostream& err) {
    if (config.crypto.keys.empty()) throw ConfigError("crypto.keys: required to re-seal the stored secrets");
    TokenCipher cipher = [&] {
        try {
            return TokenCipher::fromSpec(config.crypto.keys, config.crypto.activeKey);
        } catch (const TokenCipherConfigError& error) {
            throw ConfigError(error.what());
        }
    }();
    auto log = logger("rekey");
    try {
        auto store = openStore(config.store.dsn, kStorePoolSize, config.store.timeout);
        migrations::upgradeSchema(*store);
        StoreRekey::Settings settings;
        settings.batchSize = batchSize;
        StoreRekey rekey(*store, cipher, settings, out);

        const std::int64_t total = rekey.countToRewrite();
        log->info("re-sealing {} stored values under key '{}'", total, cipher.activeKeyId());
        const bool terminal = ::isatty(STDERR_FILENO) == 1;
        migrations::MigrationProgress progress(
            total,
            terminal ? migrations::MigrationProgress::Style::LiveBar
                     : migrations::MigrationProgress::Style::PeriodicLines,
            [&](std::string_view text) {
                if (terminal) {
                    err << text << std::flush;
                } else {
                    log->info("{}", text);
                }
            },
            &migrations::MigrationProgress::Clock::now, "sealed values");
        std::int64_t shown = 0;
        const StoreRekey::Summary summary = rekey.run([&](std::int64_t handled) {
            progress.advance(handled - shown);
            shown = handled;
        });
        progress.finish();
        if (!summary.failure.empty()) log->error("re-sealing stopped: {}; run it again to go on", summary.failure);
        if (summary.busy > 0) {
            log->warn("{} values changed or were in a refresh on every pass; run it again to take them", summary.busy);
        }
        out << summary.line() << "\n" << std::flush;
        return summary.exitCode();
    } catch (const Error& error) {
        err << "bridge rekey: " << error.what() << "\n";
        return kExitFailed;
    }
}

}  // namespace bridge::app
