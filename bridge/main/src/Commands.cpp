#include "app/Commands.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <charconv>
#include <iostream>
#include <map>
#include <optional>

#include "app/BridgeService.h"
#include "app/DemoCommand.h"
#include "app/RekeyCommand.h"
#include "app/TerminationSignals.h"
#include "bridge/base/Logging.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/MigrateCommand.h"
#include "migrations/SchemaCatalog.h"

namespace bridge::app {

namespace {

using Poco::Util::Option;
using Poco::Util::OptionSet;

struct Subcommand {
    std::string name;
    std::string summary;
    OptionSet options;
    std::string footer{};
};

// The keys `bridge serve` reads beyond OPERATIONS.md's table: the listener's (docs/http.md) and the others
// (docs/configuration.md).
constexpr const char* kServeKeys =
    "configuration keys of the HTTP listener (file or BRIDGE_ environment, see docs/http.md):\n"
    "  http.port                 public port (8080)\n"
    "  http.threads              workers answering complete requests; idle connections hold none (64)\n"
    "  http.maxQueued            listen backlog (256)\n"
    "  http.maxConnections       open connections per listener; beyond, new ones are closed (10000)\n"
    "  http.headTimeoutSeconds   a request head must be complete this long after its first byte (10)\n"
    "  http.bodyTimeoutSeconds   and its body this long after the head (10)\n"
    "  http.keepAliveSeconds     an idle keep-alive connection is closed after this; 0 = no keep-alive (15)\n"
    "  http.internalPort         serve /internal/v1 (the sync engine) on this port only, with its own workers\n"
    "                            (absent: on http.port)\n"
    "  http.internalThreads      the internal port's workers (16)\n"
    "other keys beyond OPERATIONS.md (docs/configuration.md):\n"
    "  store.timeout             seconds a database read, write or lock wait may take (5)\n"
    "  salesforce.keepAliveSeconds  salesforce.keepAliveHours, in seconds\n"
    "  salesforce.trustedDomains domains a token answer's instance_url and identity URL may be on\n"
    "                            (salesforce.com,force.com,salesforce.mil,cloudforce.com)\n"
    "  salesforce.refreshLeaseMs how long an organization's refresh lease lasts unless its holder renews it;\n"
    "                            a crashed holder blocks the others' refreshes this long (6000)\n"
    "  salesforce.refreshRecoveryFile  where a rotated refresh token the store could not take waits, sealed,\n"
    "                            for the next start (refresh-recovery.jsonl)\n"
    "webhook notifications of lost and recovered connections (docs/configuration.md):\n"
    "  notify.webhookUrl         POST connection_lost / connection_recovered events here; https, or http to\n"
    "                            127.0.0.1, ::1 or localhost (absent: no notifications, none queued)\n"
    "  notify.secret             HMAC-SHA256 key of X-Bridge-Signature, at least 32 bytes; required with the URL\n"
    "  notify.timeoutMs          one delivery attempt as a whole (5000)\n"
    "  notify.retryInitialMs     delay after the first failed attempt, doubling up to 10 minutes (1000)\n"
    "  notify.retryForHours      a notification still failing this long after its event is abandoned (24)\n"
    "  notify.pollMs             how often the deliverer looks for due notifications (500)\n"
    "  test.clockOffsetMs        TEST ONLY: shifts this instance's wall clock (0)\n";

// `bridge migrate --help`: what a staged run and a dry run do (docs/migration.md).
constexpr const char* kMigrateNotes =
    "A staged run (--org, --orgs-from; both may be given, the union is migrated) migrates only those\n"
    "organizations with their users and connection, with the promises of a full run. An --orgs-from file\n"
    "holds one legacy organization id per line; blank lines and '#' comments are ignored. A selected id the\n"
    "legacy database does not have is reported as 'not found organization <id>: ...' (a warning: the exit\n"
    "code does not change). A later run finds what is migrated and unchanged and counts it 'already current'.\n"
    "--dry-run reads and checks everything, prints 'would migrate organization <id>: ...' and every line a\n"
    "migration would report, and ends 'dry run: would migrate <n>, skipped <n>, nothing written'; it never\n"
    "opens the store. --verify compares only the selected organizations when given a selection.\n"
    "Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 rows left unmigrated.\n";

Option valued(const std::string& name, const std::string& argument, const std::string& description) {
    return Option(name, "", description).argument(argument).required(false).repeatable(false);
}

std::vector<Subcommand> subcommands() {
    auto common = [](OptionSet& options) {
        options.addOption(valued("config", "FILE", "configuration file (properties, or INI when it ends in .ini)"));
        options.addOption(Option("help", "", "show this help").required(false).repeatable(false));
    };
    std::vector<Subcommand> all;
    all.push_back(
        {"serve", "run the server until SIGTERM/SIGINT, then drain in-flight requests and stop", {}, kServeKeys});
    all.push_back({"schema", "bring the shared store's schema up to date", {}});
    all.push_back({"token", "print a signed admin or sync-engine JWT", {}});
    all.push_back({"demo", "run an embedded store, a built-in Salesforce stand-in and the server, with demo data", {}});
    all.push_back({"migrate",
                   "move organizations, users and service-account tokens out of the legacy database",
                   {},
                   kMigrateNotes});
    all.push_back({"rekey",
                   "re-seal every stored token and code verifier under the active key (crypto.activeKey, else the "
                   "first of crypto.keys) while instances keep serving; rerun it until it exits 0",
                   {}});
    for (auto& subcommand : all) common(subcommand.options);
    auto& migrate = all[4].options;
    migrate.addOption(
        Option("verify", "", "compare the legacy database with the store and list every difference; change nothing")
            .required(false)
            .repeatable(false));
    migrate.addOption(
        Option("dry-run", "", "read and check everything, print what would be migrated and skipped; write nothing")
            .required(false)
            .repeatable(false));
    migrate.addOption(Option("org", "", "migrate (or verify) only these legacy organization ids (repeatable)")
                          .argument("ID[,ID...]")
                          .required(false)
                          .repeatable(true));
    migrate.addOption(valued("orgs-from", "FILE", "migrate (or verify) only the organization ids in FILE, one a line"));
    all[5].options.addOption(valued("batch-size", "N", "values re-sealed per transaction (default 500)"));
    auto& token = all[2].options;
    token.addOption(valued("role", "ROLE", "support, org-admin or sync-engine (required)"));
    token.addOption(
        Option("org", "", "legacy organization id an org-admin may see (repeat for several); org-admin only")
            .argument("ID")
            .required(false)
            .repeatable(true));
    token.addOption(valued("ttl", "DURATION", "lifetime: 90s, 30m, 8h or 7d (default 8h)"));
    token.addOption(valued("sub", "NAME", "who the token speaks for (default: cli)"));
    return all;
}

void printUsage(std::ostream& out, const std::vector<Subcommand>& all) {
    out << "usage: bridge SUBCOMMAND [--config FILE] [options]\n\nsubcommands:\n";
    for (const auto& subcommand : all) out << "  " << subcommand.name << "\t" << subcommand.summary << "\n";
    out << "\nbridge SUBCOMMAND --help lists its options. Every configuration key may also come from the environment:\n"
           "BRIDGE_ + the key in upper case with '.' as '_' (store.dsn -> BRIDGE_STORE_DSN); the environment wins.\n"
           "Exit codes: 0 done, 1 failed, 2 bad usage or configuration, 3 rows left unmigrated (migrate) or\n"
           "values left under another key (rekey).\n";
}

void printHelp(std::ostream& out, const Subcommand& subcommand) {
    Poco::Util::HelpFormatter help(subcommand.options);
    help.setUnixStyle(true);
    help.setCommand("bridge " + subcommand.name);
    help.setUsage("[options]");
    help.setHeader(subcommand.summary);
    // The footer is printed as it is written: HelpFormatter would rewrap its lines.
    help.format(out);
    if (!subcommand.footer.empty()) out << "\n" << subcommand.footer;
}

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::multimap<std::string, std::string> parseOptions(const Subcommand& subcommand,
                                                     const std::vector<std::string>& arguments) {
    Poco::Util::OptionProcessor processor(subcommand.options);
    processor.setUnixStyle(true);
    std::multimap<std::string, std::string> values;
    for (const auto& argument : arguments) {
        std::string name, value;
        try {
            if (!processor.process(argument, name, value)) throw UsageError("unexpected argument: " + argument);
        } catch (const Poco::Util::OptionException& error) {
            throw UsageError(error.displayText());
        }
        if (!name.empty()) values.emplace(name, value);
    }
    try {
        processor.checkRequired();
    } catch (const Poco::Util::OptionException& error) {
        throw UsageError(error.displayText());
    }
    return values;
}

std::optional<std::string> single(const std::multimap<std::string, std::string>& values, const std::string& name) {
    auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
}

Config configFrom(const std::multimap<std::string, std::string>& options) {
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> file;
    if (auto path = single(options, "config")) {
        try {
            if (path->size() > 4 && path->compare(path->size() - 4, 4, ".ini") == 0) {
                file = new Poco::Util::IniFileConfiguration(*path);
            } else {
                file = new Poco::Util::PropertyFileConfiguration(*path);
            }
        } catch (const Poco::Exception& error) {
            throw ConfigError("cannot read configuration file " + *path + ": " + error.displayText());
        }
    }
    Config config = loadConfig(file.get(), processEnvironment());
    configureLogging(config.log);
    return config;
}

// Digits only: Poco's NumberParser would read "1042,7" as 10427 (',' is its thousands separator).
std::optional<std::int64_t> parsePositiveInteger(std::string_view text) {
    std::int64_t value = 0;
    const auto [parsedUpTo, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (failure != std::errc() || parsedUpTo != text.data() + text.size() || value <= 0) return std::nullopt;
    return value;
}

migrations::MigrateRequest migrateRequest(const std::multimap<std::string, std::string>& options) {
    migrations::MigrateRequest request;
    const bool verify = options.count("verify") > 0;
    const bool dryRun = options.count("dry-run") > 0;
    if (verify && dryRun)
        throw UsageError("--verify and --dry-run exclude each other: --verify changes nothing either");
    request.mode = verify   ? migrations::MigrateRequest::Mode::Verify
                   : dryRun ? migrations::MigrateRequest::Mode::DryRun
                            : migrations::MigrateRequest::Mode::Migrate;
    const auto select = [&request](const migrations::OrganizationSelection& ids) {
        if (!request.selection) request.selection.emplace();
        request.selection->add(ids);
    };
    try {
        for (auto [it, end] = options.equal_range("org"); it != end; ++it) {
            select(migrations::OrganizationSelection::fromList(it->second));
        }
        if (auto file = single(options, "orgs-from")) select(migrations::OrganizationSelection::fromFile(*file));
    } catch (const migrations::OrganizationSelectionError& error) {
        throw UsageError(error.what());
    }
    return request;
}

std::chrono::seconds parseDuration(const std::string& text) {
    if (text.empty()) throw UsageError("--ttl needs a duration such as 8h");
    const char unit = text.back();
    const bool hasUnit = unit == 's' || unit == 'm' || unit == 'h' || unit == 'd';
    const auto amount = parsePositiveInteger(std::string_view(text).substr(0, text.size() - (hasUnit ? 1 : 0)));
    if (!amount) {
        throw UsageError("--ttl must be a positive duration such as 90s, 30m, 8h or 7d");
    }
    const std::int64_t scale = unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 1;
    return std::chrono::seconds(*amount * scale);
}

int serve(const Config& config) {
    BridgeService service(config);
    service.start();
    const int received = waitForTerminationSignal();
    logger("http")->info("signal {} received: draining in-flight requests", received);
    service.stop();
    return kExitDone;
}

int schema(const Config& config) {
    auto store = openStore(config.store.dsn, 2, config.store.timeout);
    const int version = migrations::upgradeSchema(*store);
    std::cout << "store schema at version " << version << "\n";
    return kExitDone;
}

int token(const Config& config, const std::multimap<std::string, std::string>& options) {
    checkJwtSecret(config.admin.jwtSecret, "sign tokens");
    auto roleName = single(options, "role");
    if (!roleName) throw UsageError("--role is required");
    auto role = parseRole(*roleName);
    if (!role) throw UsageError("--role must be support, org-admin or sync-engine");
    Principal principal;
    principal.role = *role;
    principal.subject = single(options, "sub").value_or("cli");
    for (auto [it, end] = options.equal_range("org"); it != end; ++it) {
        const auto id = parsePositiveInteger(it->second);
        if (!id) throw UsageError("--org takes a legacy organization id, a positive integer");
        principal.organizations.push_back(*id);
    }
    if (principal.role == Role::OrgAdmin && principal.organizations.empty()) {
        throw UsageError("an org-admin token needs at least one --org");
    }
    // Support sees every organization and the sync engine asks for any user: a list of organizations in their
    // tokens would read as a limit that nothing enforces.
    if (principal.role != Role::OrgAdmin && !principal.organizations.empty()) {
        throw UsageError("--org is only for org-admin tokens; a " + *roleName + " token names no organizations");
    }
    const auto ttl = parseDuration(single(options, "ttl").value_or("8h"));
    std::cout << TokenAuthority(config.admin.jwtSecret).issue(principal, ttl) << "\n";
    return kExitDone;
}

}  // namespace

int runCommandLine(const std::vector<std::string>& arguments) {
    const auto all = subcommands();
    if (arguments.empty()) {
        printUsage(std::cerr, all);
        return kExitUsage;
    }
    if (arguments.front() == "--help" || arguments.front() == "-h" || arguments.front() == "help") {
        printUsage(std::cout, all);
        return kExitDone;
    }
    const Subcommand* chosen = nullptr;
    for (const auto& subcommand : all) {
        if (subcommand.name == arguments.front()) chosen = &subcommand;
    }
    if (chosen == nullptr) {
        std::cerr << "bridge: unknown subcommand '" << arguments.front() << "'\n\n";
        printUsage(std::cerr, all);
        return kExitUsage;
    }
    try {
        const auto options = parseOptions(*chosen, {arguments.begin() + 1, arguments.end()});
        if (options.count("help") > 0) {
            printHelp(std::cout, *chosen);
            return kExitDone;
        }
        if (chosen->name == "serve" || chosen->name == "demo") blockTerminationSignals();  // before any thread
        const Config config = configFrom(options);
        if (chosen->name == "serve") return serve(config);
        if (chosen->name == "schema") return schema(config);
        if (chosen->name == "token") return token(config, options);
        if (chosen->name == "migrate") {
            return migrations::runMigrateCommand(config, migrateRequest(options), std::cout, std::cerr);
        }
        if (chosen->name == "rekey") {
            const auto batchSize = parsePositiveInteger(single(options, "batch-size").value_or("500"));
            if (!batchSize || *batchSize > 100000) throw UsageError("--batch-size takes an integer from 1 to 100000");
            return runRekeyCommand(config, static_cast<int>(*batchSize), std::cout, std::cerr);
        }
        return runDemo(config);
    } catch (const UsageError& error) {
        std::cerr << "bridge " << chosen->name << ": " << error.what() << "\n";
        printHelp(std::cerr, *chosen);
        return kExitUsage;
    } catch (const ConfigError& error) {
        std::cerr << "bridge " << chosen->name << ": configuration: " << error.what() << "\n";
        return kExitUsage;
    } catch (const Error& error) {
        std::cerr << "bridge " << chosen->name << ": " << error.what() << "\n";
        return kExitFailed;
    } catch (const Poco::Exception& error) {
        std::cerr << "bridge " << chosen->name << ": " << error.displayText() << "\n";
        return kExitFailed;
    } catch (const std::exception& error) {
        std::cerr << "bridge " << chosen->name << ": " << error.what() << "\n";
        return kExitFailed;
    }
}

}  // namespace bridge::app
