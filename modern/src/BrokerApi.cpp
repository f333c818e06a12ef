#include "modern/BrokerApi.h"

#include "bridge/http/JsonBody.h"
#include "bridge/http/JsonWriter.h"
#include "bridge/http/ProblemJson.h"
#include "mappings/Times.h"

namespace bridge::modern {

namespace {

constexpr std::string_view kBase = "/internal/v1";

// Exactly one of "userId" (new-panel id) and "legacyUserId".
UserRef userOf(const JsonBody& body) {
    auto publicId = body.optionalString("userId");
    auto legacyId = body.optionalInteger("legacyUserId");
    if (publicId && legacyId) throwValidation("userId", "give userId or legacyUserId, not both");
    if (publicId) return *publicId;
    if (legacyId) return *legacyId;
    throwValidation("userId", "userId or legacyUserId is required");
}

}  // namespace

BrokerApi::BrokerApi(TokenBroker& broker) {
    routes_ = {
        {"POST", std::string(kBase) + "/salesforce/access-token", Access::Broker,
         [&broker](ApiRequest& request) {
             const JsonBody body = JsonBody::parse(request.body);
             const UserRef user = userOf(body);
             const AccessGrant grant = broker.accessToken(user, body.requiredString("client"));
             JsonWriter json;
             json.beginObject()
                 .field("accessToken", grant.accessToken)
                 .field("instanceUrl", grant.instanceUrl)
                 .field("serviceAccountUserId", grant.serviceAccountUserId)
                 .field("expiresAt", mappings::formatRfc3339(grant.expiresAt))
                 .endObject();
             ApiResponse response = ApiResponse::json(200, json.take());
             response.headers.emplace_back("Cache-Control", "no-store");
             return response;
         }},
        {"POST", std::string(kBase) + "/salesforce/access-token/invalidate", Access::Broker,
         [&broker](ApiRequest& request) {
             broker.invalidate(userOf(JsonBody::parse(request.body)));
             return ApiResponse::noContent();
         }},
    };
}

bool BrokerApi::owns(std::string_view path) const { return path.rfind(std::string(kBase) + "/", 0) == 0; }

ApiResponse BrokerApi::errorResponse(const Error& error) const { return problemResponse(error); }

}  // namespace bridge::modern
