#include "StandinTestClient.h"

#include <Poco/URI.h>

#include <stdexcept>
#include <utility>

namespace bridge::standin::test {
namespace {

HttpFields withOverrides(HttpFields fields, const HttpFields& overrides) {
    for (const auto& [name, value] : overrides) fields[name] = value;
    return fields;
}

}  // namespace

StandinTestClient::StandinTestClient(std::string baseUrl, std::string clientId, std::string clientSecret)
    : baseUrl_(std::move(baseUrl)), clientId_(std::move(clientId)), clientSecret_(std::move(clientSecret)) {}

HttpReply StandinTestClient::authorize(const HttpFields& overrides, const HttpFields& headers) const {
    const HttpFields query = withOverrides({{"response_type", "code"},
                                            {"client_id", clientId_},
                                            {"redirect_uri", kRedirectUri},
                                            {"state", "state-123"},
                                            {"scope", kFullScope},
                                            {"code_challenge", kCodeChallenge},
                                            {"code_challenge_method", "S256"},
                                            {"prompt", "login"}},
                                           overrides);
    return httpGet(baseUrl_ + "/services/oauth2/authorize?" + formEncode(query), headers);
}

std::string StandinTestClient::authorizeForCode(const std::string& scope) const {
    const HttpReply reply = authorize({{"scope", scope}});
    const HttpFields query = queryOf(reply.location);
    if (reply.status != 302 || !query.contains("code")) {
        throw std::runtime_error("authorize answered " + std::to_string(reply.status) + " to " + reply.location);
    }
    return query.at("code");
}

HttpReply StandinTestClient::exchangeCode(const std::string& code, const std::string& verifier,
                                          const HttpFields& overrides) const {
    return httpPostForm(baseUrl_ + "/services/oauth2/token", withOverrides({{"grant_type", "authorization_code"},
                                                                            {"code", code},
                                                                            {"redirect_uri", kRedirectUri},
                                                                            {"code_verifier", verifier},
                                                                            {"client_id", clientId_},
                                                                            {"client_secret", clientSecret_}},
                                                                           overrides));
}

Poco::JSON::Object::Ptr StandinTestClient::login(const std::string& scope) const {
    const HttpReply reply = exchangeCode(authorizeForCode(scope));
    if (reply.status != 200) throw std::runtime_error("code exchange answered " + reply.body);
    return reply.json();
}

HttpReply StandinTestClient::refresh(const std::string& refreshToken, const HttpFields& overrides) const {
    return httpPostForm(baseUrl_ + "/services/oauth2/token", withOverrides({{"grant_type", "refresh_token"},
                                                                            {"refresh_token", refreshToken},
                                                                            {"client_id", clientId_},
                                                                            {"client_secret", clientSecret_}},
                                                                           overrides));
}

HttpReply StandinTestClient::revoke(const std::string& token, const std::string& path) const {
    return httpPostForm(baseUrl_ + path, {{"token", token}});
}

HttpReply StandinTestClient::identity(const std::string& idUrl, const std::string& accessToken) const {
    HttpFields headers;
    if (!accessToken.empty()) headers["Authorization"] = "Bearer " + accessToken;
    return httpGet(idUrl, headers);
}

HttpReply StandinTestClient::control(const std::string& path, const std::string& json) const {
    return httpPostJson(baseUrl_ + path, json);
}

Poco::JSON::Object::Ptr StandinTestClient::counters() const { return httpGet(baseUrl_ + "/control/counters").json(); }

}  // namespace bridge::standin::test
