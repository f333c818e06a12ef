#include "bridge/salesforce/SalesforceTransport.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/SSLException.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <openssl/ssl.h>

#include <array>
#include <istream>
#include <memory>
#include <ostream>

namespace bridge {
namespace {

using Clock = std::chrono::steady_clock;

SalesforceFailure transportFailure(std::string error, std::string description) {
    return SalesforceFailure{SalesforceFailure::Kind::Transient, std::move(error), std::move(description)};
}

bool isLoopbackHost(const std::string& host) {
    if (Poco::icompare(host, "localhost") == 0) return true;
    Poco::Net::IPAddress address;
    return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

// What is left of the call's time, for the next blocking step. Poco reads a zero timeout as "wait forever", so a
// spent deadline ends the call instead.
Poco::Timespan remaining(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw Poco::TimeoutException("deadline passed");
    return Poco::Timespan(left.count());
}

SalesforceResult<SalesforceResponse> exchange(Poco::Net::HTTPClientSession& session, const Poco::URI& uri,
                                              const SalesforceRequest& request, Clock::time_point deadline) {
    Poco::Net::HTTPRequest httpRequest(request.method, uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
    httpRequest.set("Accept", "application/json");
    if (!request.bearerToken.empty()) httpRequest.setCredentials("Bearer", request.bearerToken);
    if (request.method == Poco::Net::HTTPRequest::HTTP_POST) {
        httpRequest.setContentType("application/x-www-form-urlencoded");
        httpRequest.setContentLength64(static_cast<Poco::Int64>(request.formBody.size()));
    }

    session.setTimeout(remaining(deadline));
    std::ostream& requestBody = session.sendRequest(httpRequest);
    // Poco streams swallow socket exceptions into badbit; this makes them surface as the original exception.
    requestBody.exceptions(std::ios::badbit);
    session.socket().setSendTimeout(remaining(deadline));
    requestBody << request.formBody;

    session.socket().setReceiveTimeout(remaining(deadline));
    Poco::Net::HTTPResponse httpResponse;
    std::istream& responseBody = session.receiveResponse(httpResponse);
    responseBody.exceptions(std::ios::badbit);
    const bool hasLength = httpResponse.hasContentLength();
    if (hasLength && httpResponse.getContentLength64() > static_cast<Poco::Int64>(SalesforceTransport::kMaxBodyBytes)) {
        return transportFailure("response_too_large", "answer over 1 MiB from " + uri.getHost());
    }

    SalesforceResponse response{static_cast<int>(httpResponse.getStatus()), {}, httpResponse.get("Location", "")};
    std::array<char, 4096> chunk;
    while (responseBody) {
        session.socket().setReceiveTimeout(remaining(deadline));
        responseBody.read(chunk.data(), chunk.size());
        response.body.append(chunk.data(), static_cast<std::size_t>(responseBody.gcount()));
        if (response.body.size() > SalesforceTransport::kMaxBodyBytes) {
            return transportFailure("response_too_large", "answer over 1 MiB from " + uri.getHost());
        }
    }
    if (hasLength && static_cast<Poco::Int64>(response.body.size()) != httpResponse.getContentLength64()) {
        return transportFailure("connection_failed", "connection to " + uri.getHost() + " dropped mid-answer");
    }
    return response;
}

}  // namespace

SalesforceTransport::SalesforceTransport(std::chrono::milliseconds timeout) : timeout_(timeout) {
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = true;
    params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
    tlsContext_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    tlsContext_->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    tlsContext_->enableExtendedCertificateVerification(true);
    // OpenSSL's own chain verdict, without Poco's callback: a process-wide Poco certificate handler (an
    // AcceptCertificateHandler somewhere) could otherwise overrule a failed verification.
    SSL_CTX_set_verify(tlsContext_->sslContext(), SSL_VERIFY_PEER, nullptr);
}

SalesforceResult<SalesforceResponse> SalesforceTransport::send(const SalesforceRequest& request) const {
    Poco::URI uri;
    try {
        uri = Poco::URI(request.url);
    } catch (const Poco::SyntaxException&) {
        return transportFailure("invalid_url", "a Salesforce URL is malformed");
    }
    const std::string& host = uri.getHost();
    const bool tls = uri.getScheme() == "https";
    if (host.empty() || (!tls && uri.getScheme() != "http")) {
        return transportFailure("invalid_url", "a Salesforce URL is neither https nor http with a host");
    }
    if (!tls && !isLoopbackHost(host)) {
        return transportFailure("insecure_url",
                                "refused plain http to " + host + ": only loopback hosts go without TLS");
    }

    const Clock::time_point deadline = Clock::now() + timeout_;
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (tls) {
        session = std::make_unique<Poco::Net::HTTPSClientSession>(host, uri.getPort(), tlsContext_);
    } else {
        session = std::make_unique<Poco::Net::HTTPClientSession>(host, uri.getPort());
    }
    session->setKeepAlive(false);
    try {
        return exchange(*session, uri, request, deadline);
    } catch (const Poco::TimeoutException&) {
        return transportFailure(
            "timeout", "no complete answer from " + host + " within " + std::to_string(timeout_.count()) + " ms");
    } catch (const Poco::Net::SSLException& exception) {
        // OpenSSL's words (e.g. "certificate verify failed") say what an operator must fix; they hold no secret.
        return transportFailure("tls_failed", exception.displayText() + " talking to " + host);
    } catch (const Poco::Exception& exception) {
        return transportFailure("connection_failed", exception.name() + std::string(" talking to ") + host);
    } catch (const std::ios_base::failure&) {
        return transportFailure("connection_failed", "stream failure talking to " + host);
    }
}

}  // namespace bridge
