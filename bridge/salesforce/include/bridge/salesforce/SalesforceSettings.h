#pragma once

#include <chrono>
#include <string>

#include "bridge/salesforce/SalesforceHosts.h"

namespace bridge {

// The connected app and where Salesforce lives (see docs OPERATIONS.md, salesforce.* keys).
struct SalesforceSettings {
    std::string clientId;
    std::string clientSecret;
    std::string productionLoginUrl = "https://login.salesforce.com";
    std::string sandboxLoginUrl = "https://test.salesforce.com";
    std::string callbackUrl;
    std::chrono::milliseconds timeout{10000};  // bounds each HTTP call as a whole
    // Domains a token answer's instance_url and identity URL may be on (salesforce.trustedDomains).
    std::string trustedDomains{SalesforceHosts::kDefaultDomains};
};

}  // namespace bridge
