#include "bridge/salesforce/SalesforceTransport.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <condition_variable>
#include <istream>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

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

// A host name's addresses, looked up on a thread of its own so that the caller waits no longer than the deadline
// (getaddrinfo has no timeout of its own, and the resolver's may add up to many seconds). A lookup cut off goes on
// in the background and is forgotten when it ends.
std::vector<Poco::Net::IPAddress> resolve(const std::string& host, Clock::time_point deadline) {
    Poco::Net::IPAddress literal;
    if (Poco::Net::IPAddress::tryParse(host, literal)) return {literal};
    struct Lookup {
        std::mutex mutex;
        std::condition_variable done;
        bool finished = false;
        int status = 0;
        std::vector<Poco::Net::IPAddress> addresses;
    };
    auto lookup = std::make_shared<Lookup>();
    std::thread([lookup, host] {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        addrinfo* found = nullptr;
        const int status = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
        std::vector<Poco::Net::IPAddress> addresses;
        for (const addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
            if (entry->ai_family == AF_INET || entry->ai_family == AF_INET6) {
                addresses.emplace_back(*entry->ai_addr);
            }
        }
        if (found != nullptr) ::freeaddrinfo(found);
        const std::lock_guard lock(lookup->mutex);
        lookup->status = status;
        lookup->addresses = std::move(addresses);
        lookup->finished = true;
        lookup->done.notify_all();
    }).detach();
    std::unique_lock lock(lookup->mutex);
    if (!lookup->done.wait_until(lock, deadline, [&] { return lookup->finished; })) {
        throw Poco::TimeoutException("host name lookup");
    }
    if (lookup->status != 0 || lookup->addresses.empty()) throw Poco::Net::HostNotFoundException(host);
    return lookup->addresses;
}

// A TCP connection to the first of the host's addresses that answers, each attempt bounded by what is left.
Poco::Net::StreamSocket connectWithin(const std::string& host, Poco::UInt16 port, Clock::time_point deadline) {
    const std::vector<Poco::Net::IPAddress> addresses = resolve(host, deadline);
    for (std::size_t i = 0;; ++i) {
        try {
            Poco::Net::StreamSocket socket;
            socket.connect(Poco::Net::SocketAddress(addresses[i], port), remaining(deadline));
            return socket;
        } catch (const Poco::TimeoutException&) {
            throw;
        } catch (const Poco::Net::NetException&) {
            if (i + 1 == addresses.size()) throw;
        }
    }
}

SalesforceResult<SalesforceResponse> exchange(Poco::Net::HTTPClientSession& session, const Poco::URI& uri,
                                              const SalesforceRequest& request, std::string_view contentType,
                                              const HttpHeaders& headers, Clock::time_point deadline) {
    Poco::Net::HTTPRequest httpRequest(request.method, uri.getPathEtc(), Poco::Net::HTTPMessage::HTTP_1_1);
    // The session was handed a connected socket and knows no host: the header is set here.
    httpRequest.setHost(uri.getHost(), uri.getPort());
    httpRequest.set("Accept", "application/json");
    if (!request.bearerToken.empty()) httpRequest.setCredentials("Bearer", request.bearerToken);
    for (const auto& [name, value] : headers) httpRequest.set(name, value);
    if (request.method == Poco::Net::HTTPRequest::HTTP_POST) {
        httpRequest.setContentType(std::string(contentType));
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
    return send(request, "application/x-www-form-urlencoded", {});
}

SalesforceResult<SalesforceResponse> SalesforceTransport::postJson(const std::string& url, const std::string& body,
                                                                   const HttpHeaders& headers) const {
    return send(SalesforceRequest{"POST", url, body, ""}, "application/json", headers);
}

SalesforceResult<SalesforceResponse> SalesforceTransport::send(const SalesforceRequest& request,
                                                               std::string_view contentType,
                                                               const HttpHeaders& headers) const {
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

    // One deadline for the whole exchange: host name lookup, connect, TLS handshake, request and answer.
    const Clock::time_point deadline = Clock::now() + timeout_;
    try {
        Poco::Net::StreamSocket socket = connectWithin(host, uri.getPort(), deadline);
        socket.setSendTimeout(remaining(deadline));
        socket.setReceiveTimeout(remaining(deadline));
        if (tls) {
            // The handshake, with the host name for SNI and the certificate check, under the timeouts just set.
            socket = Poco::Net::SecureStreamSocket::attach(socket, host, tlsContext_);
        }
        Poco::Net::HTTPClientSession session(socket);
        session.setKeepAlive(false);
        return exchange(session, uri, request, contentType, headers, deadline);
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
