#pragma once

#include <map>
#include <string>

#include "Identity.h"
#include "StandinAnswer.h"
#include "StandinRequest.h"

namespace bridge::standin {

// The sign-in page a browser sees at /services/oauth2/authorize: one choice per fixture identity, posted back to
// the same endpoint with the authorization request's parameters and `login_user`. Clients that do not ask for
// HTML (the API tests, curl) are never shown it and are approved as the current identity at once.
StandinAnswer loginPage(const StandinRequest& request, const std::map<std::string, Identity>& users,
                        const std::string& currentUserId);

// True for a browser's GET: it sends Accept: text/html and has not chosen an identity yet.
bool wantsLoginPage(const StandinRequest& request);

}  // namespace bridge::standin
