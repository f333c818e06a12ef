// legacy-datagen: fills a MySQL/MariaDB database with a production-like legacy schema and data, for tests, the
// benchmark and trying the migrator by hand.

#include <cppconn/connection.h>
#include <cppconn/exception.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include "bridge/base/Config.h"
#include "migrations/MySqlDsn.h"
#include "testsupport/LegacyDataGenerator.h"

namespace {

constexpr const char* kUsage =
    "usage: legacy-datagen --dsn mysql://USER:PASS@HOST:PORT/DB [--organizations N] [--users-per-org M]\n"
    "                      [--seed S] [--manifest FILE]\n"
    "Creates the legacy tables (legacy-schema.sql) in an empty database and fills them, the same for the same\n"
    "seed. The manifest (JSON) names the organizations of every dirty case and holds legacy.tokenKeys.\n";

int usageError(const std::string& message) {
    std::cerr << "legacy-datagen: " << message << "\n" << kUsage;
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dsnText;
    std::string manifestPath;
    bridge::testsupport::LegacyDataSpec spec;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string option = argv[i];
            if (option == "--help" || option == "-h") {
                std::cout << kUsage;
                return 0;
            }
            if (i + 1 >= argc) return usageError(option + " needs a value");
            const std::string value = argv[++i];
            if (option == "--dsn") {
                dsnText = value;
            } else if (option == "--organizations") {
                spec.organizations = std::stoll(value);
            } else if (option == "--users-per-org") {
                spec.usersPerOrganization = std::stoi(value);
            } else if (option == "--seed") {
                spec.seed = std::stoull(value);
            } else if (option == "--manifest") {
                manifestPath = value;
            } else {
                return usageError("unknown option " + option);
            }
        }
    } catch (const std::logic_error&) {
        return usageError("a number is expected");
    }
    if (dsnText.empty()) return usageError("--dsn is required");
    if (spec.organizations < 0 || spec.usersPerOrganization < 0) return usageError("counts cannot be negative");

    try {
        const auto dsn = bridge::migrations::MySqlDsn::parse(dsnText, "--dsn");
        const auto connection = dsn.connect();
        const auto started = std::chrono::steady_clock::now();
        const auto manifest = bridge::testsupport::LegacyDataGenerator(spec).generate(*connection);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
        if (!manifestPath.empty()) {
            std::ofstream file(manifestPath);
            file << manifest.toJson() << "\n";
            if (!file) throw std::runtime_error("cannot write " + manifestPath);
        }
        std::cout << "wrote " << manifest.organizationRows << " organizations, " << manifest.userRows << " users, "
                  << manifest.connectivityRows << " connectivity rows in " << took.count() << " s\n";
        return 0;
    } catch (const bridge::ConfigError& error) {
        return usageError(error.what());
    } catch (const sql::SQLException& error) {
        std::cerr << "legacy-datagen: database error " << error.getErrorCode() << ": " << error.what() << "\n";
        return 1;
    } catch (const std::exception& error) {
        std::cerr << "legacy-datagen: " << error.what() << "\n";
        return 1;
    }
}
