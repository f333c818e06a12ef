#include "bridge/salesforce/SalesforceClient.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <initializer_list>
#include <utility>

#include "bridge/base/Logging.h"
#include "bridge/crypto/Secrets.h"

namespace bridge {
namespace {

constexpr int kMaxRedirects = 2;

std::string_view environmentName(Environment environment) {
    return environment == Environment::Sandbox ? "sandbox" : "production";
}

bool isUnreserved(char character) {
    return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z') ||
           (character >= '0' && character <= '9') || character == '-' || character == '.' || character == '_' ||
           character == '~';
}

// RFC 3986: everything but the unreserved characters, so that a value survives both URLs and form bodies.
std::string percentEncode(std::string_view value) {
    constexpr std::string_view kHexDigits = "0123456789ABCDEF";
    std::string encoded;
    encoded.reserve(value.size());
    for (const char character : value) {
        if (isUnreserved(character)) {
            encoded += character;
        } else {
            const auto byte = static_cast<unsigned char>(character);
            encoded += '%';
            encoded += kHexDigits[byte >> 4];
            encoded += kHexDigits[byte & 0x0F];
        }
    }
    return encoded;
}

std::string formEncode(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    std::string encoded;
    for (const auto& [name, value] : fields) {
        if (!encoded.empty()) encoded += '&';
        encoded += name;
        encoded += '=';
        encoded += percentEncode(value);
    }
    return encoded;
}

std::string_view trimmedSlash(std::string_view url) {
    while (url.ends_with('/')) url.remove_suffix(1);
    return url;
}

bool isRedirect(int status) { return status == 301 || status == 302 || status == 307 || status == 308; }

}  // namespace

SalesforceClient::Pkce SalesforceClient::makePkce() {
    Pkce pkce;
    pkce.verifier = base64UrlEncode(randomBytes(32));
    pkce.challenge = sha256Base64Url(pkce.verifier);
    return pkce;
}

SalesforceClient::SalesforceClient(SalesforceSettings settings)
    : settings_(std::move(settings)),
      hosts_(SalesforceHosts::parseDomains(settings_.trustedDomains),
             {settings_.productionLoginUrl, settings_.sandboxLoginUrl}),
      transport_(settings_.timeout),
      logger_(logger("salesforce")) {}

std::string SalesforceClient::authorizationUrl(Environment environment, std::string_view state,
                                               std::string_view codeChallenge) const {
    return endpoint(environment, "/services/oauth2/authorize") + "?" +
           formEncode({{"response_type", "code"},
                       {"client_id", settings_.clientId},
                       {"redirect_uri", settings_.callbackUrl},
                       {"state", state},
                       {"scope", "api refresh_token"},
                       {"prompt", "login"},
                       {"code_challenge", codeChallenge},
                       {"code_challenge_method", "S256"}});
}

TokenResult SalesforceClient::exchangeCode(Environment environment, std::string_view code,
                                           std::string_view codeVerifier) const {
    TokenResult result = postToken(environment, formEncode({{"grant_type", "authorization_code"},
                                                            {"code", code},
                                                            {"redirect_uri", settings_.callbackUrl},
                                                            {"code_verifier", codeVerifier},
                                                            {"client_id", settings_.clientId},
                                                            {"client_secret", settings_.clientSecret}}))
                             .result;
    if (result.succeeded() &&
        (!hosts_.trusts(result.value().instanceUrl) || !hosts_.trusts(result.value().identityUrl))) {
        const TokenGrant& grant = result.value();
        const bool instanceTrusted = hosts_.trusts(grant.instanceUrl);
        logger_->warn("code exchange ({}): the answer's {} is not on a Salesforce host: refusing the login",
                      environmentName(environment), instanceTrusted ? "identity URL" : "instance_url");
        revoke(environment, grant.refreshToken ? *grant.refreshToken : grant.accessToken);
        result = SalesforceFailure{SalesforceFailure::Kind::PermanentRefusal, "untrusted_url",
                                   instanceTrusted ? "the identity URL is not on a Salesforce host"
                                                   : "instance_url is not on a Salesforce host"};
    }
    logTokenOutcome("code exchange", environment, result);
    return result;
}

TokenResult SalesforceClient::refresh(Environment environment, std::string_view refreshToken) const {
    const std::string formBody = formEncode({{"grant_type", "refresh_token"},
                                             {"refresh_token", refreshToken},
                                             {"client_id", settings_.clientId},
                                             {"client_secret", settings_.clientSecret}});
    ClassifiedTokenResponse answer = postToken(environment, formBody);
    if (answer.unrecognisedRefusal) {
        logger_->debug("refresh ({}): unrecognised refusal \"{}\", asking once more", environmentName(environment),
                       answer.result.failure().reason());
        answer = postToken(environment, formBody);
    }
    if (answer.result.succeeded() && !answer.result.value().instanceUrl.empty() &&
        !hosts_.trusts(answer.result.value().instanceUrl)) {
        logger_->warn("refresh ({}): the answer's instance_url is not on a Salesforce host: keeping the stored one",
                      environmentName(environment));
        TokenGrant grant = answer.result.value();
        grant.instanceUrl.clear();
        answer.result = std::move(grant);
    }
    logTokenOutcome("refresh", environment, answer.result);
    return answer.result;
}

bool SalesforceClient::revoke(Environment environment, std::string_view token) const {
    SalesforceRequest request{
        "POST", endpoint(environment, "/services/oauth2/revoke"), formEncode({{"token", token}}), {}};
    for (int redirects = 0;; ++redirects) {
        const SalesforceResult<SalesforceResponse> answer = transport_.send(request);
        if (!answer.succeeded()) {
            logger_->debug("revoke ({}): {}", environmentName(environment), answer.failure().reason());
            return false;
        }
        const SalesforceResponse& response = answer.value();
        if (!isRedirect(response.status) || response.location.empty() || redirects == kMaxRedirects) {
            logger_->debug("revoke ({}): HTTP {} after {} redirect(s)", environmentName(environment), response.status,
                           redirects);
            return response.status == 200;
        }
        std::string next;
        try {
            next = Poco::URI(Poco::URI(request.url), response.location).toString();
        } catch (const Poco::SyntaxException&) {
            logger_->debug("revoke ({}): redirected to a malformed Location", environmentName(environment));
            return false;
        }
        // The token travels in the request's body: it follows a redirect only where the first request went.
        if (!SalesforceHosts::sameOrigin(request.url, next)) {
            logger_->warn("revoke ({}): not following a redirect to another host", environmentName(environment));
            return false;
        }
        request.url = std::move(next);
    }
}

IdentityResult SalesforceClient::fetchIdentity(std::string_view identityUrl, std::string_view accessToken) const {
    if (!hosts_.trusts(identityUrl)) {
        logger_->warn("identity: the identity URL is not on a Salesforce host: not sending the access token there");
        return IdentityResult(SalesforceFailure{SalesforceFailure::Kind::PermanentRefusal, "untrusted_url",
                                                "the identity URL is not on a Salesforce host"});
    }
    const SalesforceResult<SalesforceResponse> answer =
        transport_.send({"GET", std::string(identityUrl), {}, std::string(accessToken)});
    IdentityResult identity = answer.succeeded() ? readIdentityResponse(answer.value().status, answer.value().body)
                                                 : IdentityResult(answer.failure());
    logger_->debug("identity: {}", identity.succeeded() ? "read" : identity.failure().reason());
    return identity;
}

const std::string& SalesforceClient::loginUrl(Environment environment) const {
    return environment == Environment::Sandbox ? settings_.sandboxLoginUrl : settings_.productionLoginUrl;
}

ClassifiedTokenResponse SalesforceClient::postToken(Environment environment, const std::string& formBody) const {
    const SalesforceResult<SalesforceResponse> answer =
        transport_.send({"POST", endpoint(environment, "/services/oauth2/token"), formBody, {}});
    if (!answer.succeeded()) return {answer.failure()};
    return classifyTokenResponse(answer.value().status, answer.value().body);
}

void SalesforceClient::logTokenOutcome(std::string_view operation, Environment environment,
                                       const TokenResult& result) const {
    if (result.succeeded()) {
        logger_->debug("{} ({}): granted", operation, environmentName(environment));
        return;
    }
    const SalesforceFailure& failure = result.failure();
    logger_->debug("{} ({}): {} failure: {}", operation, environmentName(environment),
                   failure.kind == SalesforceFailure::Kind::PermanentRefusal ? "permanent" : "transient",
                   failure.reason());
}

std::string SalesforceClient::endpoint(Environment environment, std::string_view path) const {
    return std::string(trimmedSlash(loginUrl(environment))) + std::string(path);
}

}  // namespace bridge
