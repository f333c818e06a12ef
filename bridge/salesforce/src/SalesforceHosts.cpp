#include "bridge/salesforce/SalesforceHosts.h"

#include <Poco/Exception.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace bridge {

namespace {

std::string lowerCase(std::string_view text) {
    std::string lowered(text);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lowered;
}

std::optional<Poco::URI> parsed(std::string_view url) {
    try {
        Poco::URI uri{std::string(url)};
        if (uri.getHost().empty()) return std::nullopt;
        return uri;
    } catch (const Poco::SyntaxException&) {
        return std::nullopt;
    }
}

bool isLoopback(const std::string& host) {
    if (Poco::icompare(host, "localhost") == 0) return true;
    Poco::Net::IPAddress address;
    return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

}  // namespace

SalesforceHosts::SalesforceHosts(std::vector<std::string> domains, const std::vector<std::string>& loginUrls)
    : domains_(std::move(domains)) {
    for (auto& domain : domains_) domain = lowerCase(domain);
    for (const auto& loginUrl : loginUrls) {
        const auto uri = parsed(loginUrl);
        if (!uri) continue;
        loginHosts_.push_back(lowerCase(uri->getHost()));
        loopbackAllowed_ = loopbackAllowed_ || isLoopback(uri->getHost());
    }
}

bool SalesforceHosts::trusts(std::string_view url) const {
    const auto uri = parsed(url);
    if (!uri || !uri->getUserInfo().empty()) return false;
    const std::string host = lowerCase(uri->getHost());
    if (isLoopback(host)) return loopbackAllowed_ && (uri->getScheme() == "http" || uri->getScheme() == "https");
    if (uri->getScheme() != "https") return false;
    if (std::find(loginHosts_.begin(), loginHosts_.end(), host) != loginHosts_.end()) return true;
    return std::any_of(domains_.begin(), domains_.end(), [&host](const std::string& domain) {
        return host == domain ||
               (host.size() > domain.size() && host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.');
    });
}

bool SalesforceHosts::sameOrigin(std::string_view from, std::string_view to) {
    const auto a = parsed(from);
    const auto b = parsed(to);
    return a && b && a->getScheme() == b->getScheme() && Poco::icompare(a->getHost(), b->getHost()) == 0 &&
           a->getPort() == b->getPort();
}

std::vector<std::string> SalesforceHosts::parseDomains(std::string_view list) {
    std::vector<std::string> domains;
    while (!list.empty()) {
        const auto comma = std::min(list.find(','), list.size());
        std::string_view entry = list.substr(0, comma);
        list.remove_prefix(std::min(comma + 1, list.size()));
        while (!entry.empty() && (entry.front() == ' ' || entry.front() == '.')) entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        if (!entry.empty()) domains.push_back(lowerCase(entry));
    }
    return domains;
}

}  // namespace bridge
