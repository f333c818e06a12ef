#include "LoginPage.h"

namespace bridge::standin {
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

}  // namespace

bool wantsLoginPage(const StandinRequest& request) {
    return request.method == "GET" && request.accept.find("text/html") != std::string::npos &&
           !request.parameters.contains("login_user");
}

StandinAnswer loginPage(const StandinRequest& request, const std::map<std::string, Identity>& users,
                        const std::string& currentUserId) {
    std::string hidden;
    for (const auto& [name, value] : request.parameters) {
        hidden += "<input type=\"hidden\" name=\"" + escapeHtml(name) + "\" value=\"" + escapeHtml(value) + "\">\n";
    }
    std::string choices;
    for (const auto& [userId, identity] : users) {
        const std::string id = "user-" + escapeHtml(userId);
        choices += "<p><input type=\"radio\" name=\"login_user\" id=\"" + id + "\" value=\"" + escapeHtml(userId) +
                   "\"" + (userId == currentUserId ? " checked" : "") + "> <label for=\"" + id + "\">" +
                   escapeHtml(identity.username) + " (" + escapeHtml(identity.displayName) + ", " + escapeHtml(userId) +
                   (identity.active ? "" : ", inactive") + ")</label></p>\n";
    }
    StandinAnswer answer;
    answer.contentType = "text/html;charset=UTF-8";
    answer.body =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Login | Salesforce stand-in</title>"
        "</head><body><h1>Log in to Salesforce (stand-in)</h1>\n<form method=\"post\" "
        "action=\"/services/oauth2/authorize\" id=\"login\">\n" +
        hidden + choices +
        "<p><button type=\"submit\" id=\"login-button\">Log In</button></p>\n"
        "</form></body></html>\n";
    return answer;
}

}  // namespace bridge::standin
