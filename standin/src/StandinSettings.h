#pragma once

#include <optional>
#include <string>

namespace bridge::standin {

// Connected-app and org behaviours the control interface switches.
struct StandinSettings {
    bool rotation = false;        // every refresh answers a new refresh token and retires the presented one
    bool approvalLimit = false;   // a sixth approval for one user revokes that user's oldest refresh-token chain
    int refreshDelayMs = 0;       // each refresh takes this long, so concurrent refreshes overlap
    bool revokeRedirect = false;  // /services/oauth2/revoke answers 302 to /services/oauth2/revoke/redirected
    // What a hostile or broken answer looks like, for the client's checks: when set, the revoke redirect goes to
    // this base URL, and token answers carry this instance_url and this identity URL ("id").
    std::string revokeRedirectBase;
    std::string instanceUrl;
    std::string identityUrl;
};

struct StandinSettingsUpdate {
    std::optional<bool> rotation{};
    std::optional<bool> approvalLimit{};
    std::optional<int> refreshDelayMs{};
    std::optional<bool> revokeRedirect{};
    std::optional<std::string> revokeRedirectBase{};
    std::optional<std::string> instanceUrl{};
    std::optional<std::string> identityUrl{};
};

}  // namespace bridge::standin
