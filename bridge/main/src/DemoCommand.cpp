#include "app/DemoCommand.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <iostream>

#include "app/BridgeService.h"
#include "app/Commands.h"
#include "app/TerminationSignals.h"
#include "bridge/base/Logging.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/store/PublicIds.h"
#include "standin/StandinServer.h"

namespace bridge::app {

namespace {

struct DemoUser {
    std::int64_t id;
    std::string email;
    std::string name;
};

struct DemoOrganization {
    std::int64_t id;
    std::string name;
    std::vector<DemoUser> users;
};

// Seeds organizations with legacy-looking ids, exactly as the migrator lands them.
void seed(Store& store) {
    const std::vector<DemoOrganization> organizations{
        {1042, "Acme", {{77, "ann@acme.example", "Ann"}, {78, "bob@acme.example", "Bob"}}},
        {1043, "Globex \xE2\x9C\xA8 \"R&D\"", {{91, "carol@globex.example", "Carol"}}},
    };
    for (const auto& demo : organizations) {
        MigratedOrganization migrated;
        migrated.organization = {demo.id, demo.name};
        migrated.legacyFingerprint = "demo";
        for (const auto& demoUser : demo.users) {
            User user;
            user.legacyId = demoUser.id;
            user.orgId = demo.id;
            user.email = demoUser.email;
            user.displayName = demoUser.name;
            migrated.users.push_back(user);
        }
        store.writeMigratedOrganization(migrated);
    }
}

void printGuide(const Config& config, const BridgeService& service, const standin::StandinServer& salesforce) {
    const std::string base = "http://localhost:" + std::to_string(service.port());
    const TokenAuthority& authority = service.authority();
    const auto support = authority.issue({"demo-support", Role::Support, {}}, std::chrono::hours(8));
    const auto acmeAdmin = authority.issue({"ann-admin", Role::OrgAdmin, {1042}}, std::chrono::hours(8));
    const auto syncEngine = authority.issue({"sync-engine", Role::SyncEngine, {}}, std::chrono::hours(8));
    const std::string connectivity = base + "/legacy/api/organizations/1042/salesforce-connectivity";
    std::cout
        << "Open the console: " << base << "/console/  (paste the ADMIN token below when it asks)\n\n"
        << "bridge demo is running (Ctrl-C stops it).\n\n"
        << "  server:               " << base << "\n"
        << "  Salesforce stand-in:  " << salesforce.baseUrl() << " (control: " << salesforce.baseUrl()
        << "/control/counters)\n"
        << "  store:                " << config.store.dsn << "\n\n"
        << "Tokens (8 hours):\n"
        << "  export SUPPORT='" << support << "'\n"
        << "  export ADMIN='" << acmeAdmin << "'    # org-admin of organization 1042 only\n"
        << "  export SYNC='" << syncEngine << "'\n\n"
        << "Try the legacy panel:\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << base << "/legacy/api/organizations\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << connectivity << "\n\n"
        << "Log in with the service account (the whole OAuth round trip):\n"
        << "  curl -s -X PUT -H \"Authorization: Bearer $ADMIN\" -d '{\"loginUsingServiceAccount\": true}' "
        << connectivity << "\n"
        << "  URL=$(curl -s -X POST -H \"Authorization: Bearer $ADMIN\" -d '{\"environment\": \"production\"}' "
        << connectivity << "/connect | sed -E 's/.*\"authorizationUrl\":\"([^\"]*)\".*/\\1/')\n"
        << "  CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' \"$URL\")   # Salesforce approves at once\n"
        << "  curl -s -o /dev/null -w '%{redirect_url}\\n' \"$CALLBACK\"          # back to the panel's page\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << connectivity << "\n\n"
        << "The sync engine asks for an access token for user 77 (one refresh at the stand-in, then the cache):\n"
        << "  curl -s -X POST -H \"Authorization: Bearer $SYNC\" -d '{\"legacyUserId\": 77, \"client\": \"sync\"}' "
        << base << "/internal/v1/salesforce/access-token\n"
        << "  curl -s " << salesforce.baseUrl() << "/control/counters\n\n"
        << "The same organization through the new panel:\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << base << "/api/v2/profiles\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << base << "/api/v2/profiles/" << profileIdFor(1042)
        << "/connectivity\n"
        << "  curl -s -H \"Authorization: Bearer $ADMIN\" " << base << "/api/v2/profiles/" << profileIdFor(1042)
        << "/connectivity/events\n\n"
        << "Operations: " << base << "/healthz  " << base << "/readyz  " << base << "/metrics  " << base
        << "/openapi.json\n"
        << std::flush;
}

}  // namespace

int runDemo(Config config) {
    const Poco::Path directory(Poco::Path::temp(), "bridge-demo-" + base64UrlEncode(randomBytes(6)));
    Poco::File(directory).createDirectories();
    config.store.dsn = "sqlite:" + Poco::Path(directory, "bridge.db").toString();
    config.crypto.keys = "demo:" + base64Encode(randomBytes(32));
    config.crypto.activeKey.reset();
    config.admin.jwtSecret = base64UrlEncode(randomBytes(32));

    standin::StandinOptions standinOptions;
    standinOptions.clientId = "bridge-demo-client";
    standinOptions.clientSecret = "bridge-demo-secret";
    standin::StandinServer salesforce(standinOptions);
    salesforce.start();
    config.salesforce.clientId = standinOptions.clientId;
    config.salesforce.clientSecret = standinOptions.clientSecret;
    // Production through 127.0.0.1 and sandbox through localhost: one stand-in, two login hosts.
    config.salesforce.productionLoginUrl = "http://127.0.0.1:" + std::to_string(salesforce.port());
    config.salesforce.sandboxLoginUrl = "http://localhost:" + std::to_string(salesforce.port());
    config.salesforce.callbackUrl =
        "http://localhost:" + std::to_string(config.http.port) + "/oauth/salesforce/callback";

    BridgeService service(config);
    seed(service.store());
    service.start();
    printGuide(config, service, salesforce);

    waitForTerminationSignal();
    service.stop();
    salesforce.stop();
    Poco::File(directory).remove(true);
    return kExitDone;
}

}  // namespace bridge::app
