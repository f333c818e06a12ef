#include "bridge/http/OAuthCallbackApi.h"

#include "bridge/http/ProblemJson.h"

namespace bridge {

namespace {

std::string escapeHtml(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

// A page a browser was sent to with a login's outcome in its address: nothing may frame it or run or load
// anything in it (ApiResponse::browserPage adds: not sniffed, its address not passed on, not kept).
constexpr std::string_view kReturnPagePolicy =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

ApiResponse returnPage(const ApiRequest& request, std::string_view panelTitle, std::string_view consoleView) {
    const std::string outcome = request.queryParameter("connectivity").value_or("");
    const std::string reason = request.queryParameter("reason").value_or("");
    const bool connected = outcome == "connected";
    const std::string headline = connected ? "Salesforce is connected" : "Salesforce is not connected";
    const std::string detail =
        connected ? std::string(outcomeInWords("CONNECTED")) : std::string(outcomeInWords(reason));
    return ApiResponse::browserPage(
        "text/html; charset=utf-8",
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + escapeHtml(headline) +
            "</title></head><body><h1>" + escapeHtml(headline) + "</h1><p>" + escapeHtml(detail) + "</p><p>" +
            escapeHtml(panelTitle) + "</p>" +
            (reason.empty() ? "" : "<p><small>Code: " + escapeHtml(reason) + "</small></p>") +
            "<p><a id=\"console\" href=\"/console/#" + std::string(consoleView) +
            "\">Back to the bridge console</a></p></body></html>",
        kReturnPagePolicy);
}

}  // namespace

std::string_view outcomeInWords(std::string_view reasonCode) {
    if (reasonCode == "CONNECTED") return "The service account is connected. You can close this window.";
    if (reasonCode == "ACCESS_DENIED") return "The login was cancelled at Salesforce. Nothing was changed.";
    if (reasonCode == "STATE_INVALID") {
        return "This login link was already used or is older than 10 minutes. Start the login again from the panel.";
    }
    if (reasonCode == "SERVICE_ACCOUNT_IS_END_USER") {
        return "This Salesforce account belongs to one of the organization's users. Log in with a dedicated "
               "service account instead.";
    }
    if (reasonCode == "SALESFORCE_ORG_MISMATCH") {
        return "This account belongs to a different Salesforce organization than the one connected. Disconnect "
               "first to switch organizations.";
    }
    if (reasonCode == "SALESFORCE_UNAVAILABLE") return "Salesforce did not answer. Try again in a few minutes.";
    if (reasonCode == "TOKEN_EXCHANGE_FAILED") return "Salesforce refused to complete the login. Try again.";
    return "The login did not complete.";
}

OAuthCallbackApi::OAuthCallbackApi(Connectivity& connectivity) {
    routes_ = {
        {"GET", "/oauth/salesforce/callback", Access::Public,
         [&connectivity](ApiRequest& request) {
             CallbackQuery query{request.queryParameter("code"), request.queryParameter("state"),
                                 request.queryParameter("error")};
             // The callback's address holds the authorization code: the redirect must not pass it on as a
             // referrer, nor be kept.
             ApiResponse redirect = ApiResponse::redirect(connectivity.completeLogin(query));
             redirect.headers.emplace_back("Referrer-Policy", "no-referrer");
             redirect.headers.emplace_back("Cache-Control", "no-store");
             return redirect;
         }},
        {"GET", std::string(kLegacyReturnPath), Access::Public,
         [](ApiRequest& request) {
             return returnPage(request, "Return to Organizations > Salesforce Connectivity.", "legacy");
         }},
        {"GET", std::string(kModernReturnPath), Access::Public,
         [](ApiRequest& request) { return returnPage(request, "Return to Profiles > Connectivity.", "modern"); }},
    };
}

bool OAuthCallbackApi::owns(std::string_view path) const { return path.rfind("/oauth/salesforce/", 0) == 0; }

ApiResponse OAuthCallbackApi::errorResponse(const Error& error) const { return problemResponse(error); }

}  // namespace bridge
