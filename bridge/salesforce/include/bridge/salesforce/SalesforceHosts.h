#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bridge {

// Where a Salesforce token may be sent. A token answer names two URLs the server then uses with the token: the
// identity URL (`id`, called at once with the access token) and `instance_url` (handed to the sync engine with
// every access token). Both are accepted only over https on a host of Salesforce's domains (or the host of a
// configured login URL), or, when a login URL is itself on loopback (the demo's and the tests' stand-in), on
// loopback. Anything else is refused before a token goes there.
class SalesforceHosts {
public:
    // Salesforce's own domains (salesforce.trustedDomains), without the leading dot.
    static constexpr std::string_view kDefaultDomains = "salesforce.com,force.com,salesforce.mil,cloudforce.com";

    SalesforceHosts(std::vector<std::string> domains, const std::vector<std::string>& loginUrls);

    bool trusts(std::string_view url) const;
    // Whether `to` may be followed from `from`: same scheme, host and port.
    static bool sameOrigin(std::string_view from, std::string_view to);

    // "a,b, c" -> {"a", "b", "c"}, lower case, empty entries dropped.
    static std::vector<std::string> parseDomains(std::string_view list);

private:
    std::vector<std::string> domains_;
    std::vector<std::string> loginHosts_;
    bool loopbackAllowed_ = false;
};

}  // namespace bridge
