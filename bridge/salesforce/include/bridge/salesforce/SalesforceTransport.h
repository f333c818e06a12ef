#pragma once

#include <Poco/Net/Context.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/salesforce/SalesforceResult.h"

namespace bridge {

struct SalesforceRequest {
    std::string method;  // GET or POST
    std::string url;
    std::string formBody;     // sent form-encoded with a POST
    std::string bearerToken;  // sent as "Authorization: Bearer" when not empty
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct SalesforceResponse {
    int status = 0;
    std::string body;
    std::string location;  // the Location header, for redirects
};

// One HTTP exchange with Salesforce per send(), each on its own session, so concurrent sends share nothing but the
// immutable TLS context. TLS with certificate and host name verification; plain HTTP only to a loopback host (the
// stand-in), any other http:// URL is refused unsent. Every transport problem is a Transient failure.
class SalesforceTransport {
public:
    static constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

    // timeout bounds each send as a whole: host name lookup, connect, TLS handshake, send and receive.
    explicit SalesforceTransport(std::chrono::milliseconds timeout);

    SalesforceResult<SalesforceResponse> send(const SalesforceRequest& request) const;
    // A POST of a JSON body with these headers under the same rules and deadline: the webhook deliverer's.
    SalesforceResult<SalesforceResponse> postJson(const std::string& url, const std::string& body,
                                                  const HttpHeaders& headers) const;

private:
    SalesforceResult<SalesforceResponse> send(const SalesforceRequest& request, std::string_view contentType,
                                              const HttpHeaders& headers) const;

    std::chrono::milliseconds timeout_;
    Poco::Net::Context::Ptr tlsContext_;
};

}  // namespace bridge
