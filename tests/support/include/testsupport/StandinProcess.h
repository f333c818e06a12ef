#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "testsupport/ChildProcess.h"

namespace bridge::testsupport {

// Every field of these option structs has an initializer so that designated initializers may leave any out
// under -Wextra.
struct StandinProcessOptions {
    std::string clientId = "bridge-demo-client";
    std::string clientSecret = "bridge-demo-secret";
};

// POST /control/identity: what the next authorizations log in as; left-out fields keep that user's values
// (or the defaults for a new user). Ids in either form.
struct StandinIdentity {
    std::optional<std::string> userId{};
    std::optional<std::string> organizationId{};
    std::optional<std::string> username{};
    std::optional<std::string> email{};
    std::optional<std::string> displayName{};
    std::optional<bool> active{};
    std::optional<std::string> userType{};
};

// POST /control/faults. kind: status500, hang, nonJson, drop, processing, invalidGrant, invalidClient.
struct StandinFault {
    std::string kind{};
    int count = 1;
    std::optional<std::string> grant{};        // "refresh_token" or "authorization_code"; nullopt: both
    std::optional<int> hangMs{};               // for hang; 30000 if left out
    std::optional<std::string> description{};  // for invalidGrant
    std::optional<int> status{};               // for status500: any 5xx, 500 if left out
};

// POST /control/settings: the fields given change, the others stay.
struct StandinSettingsChange {
    std::optional<bool> rotation{};
    std::optional<bool> approvalLimit{};
    std::optional<int> refreshDelayMs{};
    std::optional<bool> revokeRedirect{};
    std::optional<std::string> revokeRedirectBase{};  // where the revoke redirect points (default: the stand-in)
    std::optional<std::string> instanceUrl{};         // the instance_url of token answers (default: the stand-in)
    std::optional<std::string> identityUrl{};         // the id of token answers (default: the stand-in's)
};

// The salesforce-standin executable on an ephemeral loopback port, with typed calls of its control interface.
// Control calls throw std::runtime_error when the stand-in answers anything but 200.
class StandinProcess {
public:
    StandinProcess();
    explicit StandinProcess(StandinProcessOptions options);
    // Stops the stand-in with SIGTERM (SIGKILL if it does not stop).
    ~StandinProcess();

    StandinProcess(const StandinProcess&) = delete;
    StandinProcess& operator=(const StandinProcess&) = delete;

    int port() const;
    std::string baseUrl() const;  // "http://127.0.0.1:PORT": both login URLs of a bridge under test
    const std::string& clientId() const;
    const std::string& clientSecret() const;
    ChildProcess& process();

    // Returns the identity in force, ids in the 18-character form.
    Poco::JSON::Object::Ptr setIdentity(const StandinIdentity& identity);
    Poco::JSON::Object::Ptr identity();
    void setAuthorizeDecision(bool approve);
    // Returns how many faulted token calls are queued in all.
    int injectFault(const StandinFault& fault);
    int injectFault(const std::string& kind, int count = 1, std::optional<std::string> grant = std::nullopt);
    // Both nullopt: every refresh token. Returns how many refresh-token chains were expired.
    int expireRefreshTokens(std::optional<std::string> userId = std::nullopt,
                            std::optional<std::string> organizationId = std::nullopt);
    void deactivateUser(const std::string& userId);
    void markPasswordChanged(const std::string& userId);
    // Returns every setting in force.
    Poco::JSON::Object::Ptr settings(const StandinSettingsChange& change);
    Poco::JSON::Object::Ptr counters();
    std::int64_t counter(const std::string& name);
    void reset();

    // Plays the admin's browser: GETs an authorization URL (the stand-in answers at once) and returns the
    // Location it redirects to, i.e. the callback URL with code and state, or with error and state.
    std::string followAuthorization(const std::string& authorizationUrl);

private:
    Poco::JSON::Object::Ptr control(const std::string& method, const std::string& path,
                                    const Poco::JSON::Object& body = Poco::JSON::Object());

    StandinProcessOptions options_;
    std::unique_ptr<ChildProcess> process_;
    int port_ = 0;
};

}  // namespace bridge::testsupport
