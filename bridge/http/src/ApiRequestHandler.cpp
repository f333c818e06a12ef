#include "ApiRequestHandler.h"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>

#include <chrono>

#include "RequestReadDeadline.h"
#include "bridge/base/Logging.h"
#include "bridge/http/ApiServer.h"
#include "bridge/http/ProblemJson.h"

namespace bridge {

namespace {

// A path that no family owns still gets an answer in the shape most clients parse: problem+json.
class UnownedPaths : public ApiFamily {
public:
    std::string_view name() const override { return "none"; }
    bool owns(std::string_view) const override { return true; }
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override { return problemResponse(error); }

private:
    std::vector<Route> routes_;
};

std::optional<std::string> bearerToken(const Poco::Net::HTTPServerRequest& request) {
    const std::string& header = request.get("Authorization", "");
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() || header.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    return header.substr(scheme.size());
}

class ApiRequestHandler : public Poco::Net::HTTPRequestHandler {
public:
    // The most of an unread body (after an early refusal) read to keep the connection; beyond, it is closed.
    static constexpr std::size_t kDrainBytes = 4 * 1024;

    ApiRequestHandler(const ApiFamily& family, const ApiRequestHandlerFactory::FamilyInstruments& instruments,
                      const Route* route, std::map<std::string, std::string> parameters, BearerVerifier& verifier,
                      spdlog::logger& log)
        : family_(family),
          instruments_(instruments),
          route_(route),
          parameters_(std::move(parameters)),
          verifier_(verifier),
          log_(log) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        const auto started = std::chrono::steady_clock::now();
        bool bodyConsumed = false;
        ApiResponse answer = answerFor(request, response, bodyConsumed);
        // A body cut short (the client left, or its deadline passed) leaves the connection unusable.
        const bool closing = bodyCut_ || (!bodyConsumed && !drain(request));
        finishedReading(request);
        if (closing) response.setKeepAlive(false);
        send(answer, response);
        if (closing) lingeringClose(request);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        instruments_.requests(answer.status).increment();
        instruments_.duration->observe(seconds);
        if (log_.should_log(spdlog::level::info)) {
            log_.info("{} {} {} {:.2f}ms", request.getMethod(),
                      route_ != nullptr ? route_->pathTemplate : "(unmatched)", answer.status, seconds * 1000);
        }
    }

private:
    ApiResponse answerFor(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                          bool& bodyConsumed) {
        try {
            if (route_ == nullptr) throw Error(ErrorCode::RouteNotFound, "No such endpoint.");
            if (request.getContentLength64() > static_cast<Poco::Int64>(ApiServer::kMaxBodyBytes)) {
                throw Error(ErrorCode::PayloadTooLarge, "The request body is larger than 64 KiB.");
            }
            const std::string& target = request.getURI();
            const auto queryStart = target.find('?');
            // Most requests carry no query: parse one only when there is one.
            Poco::URI::QueryParameters query;
            if (queryStart != std::string::npos) query = Poco::URI(target).getQueryParameters();
            ApiRequest apiRequest{request,
                                  request.getMethod(),
                                  target.substr(0, queryStart),
                                  route_->pathTemplate,
                                  parameters_,
                                  std::move(query),
                                  {},
                                  std::nullopt};
            // Before the body: a caller without a valid token must not make the server wait for, or read, 64 KiB.
            authenticate(request, apiRequest);
            if (request.getExpectContinue()) response.sendContinue();
            apiRequest.body = readBody(request);
            bodyConsumed = true;
            finishedReading(request);
            return route_->handle(apiRequest);
        } catch (const Error& error) {
            if (error.code() == ErrorCode::Internal) log_.error("internal error: {}", error.what());
            return family_.errorResponse(error);
        } catch (const Poco::SyntaxException&) {
            return family_.errorResponse(Error(ErrorCode::ValidationFailed, "The request URI is malformed."));
        } catch (const std::exception& error) {
            log_.error("unexpected failure: {}", error.what());
            return family_.errorResponse(Error(ErrorCode::Internal, "Something went wrong on our side."));
        }
    }

    // The listener stops the clock on the request's bytes: what the route does next may take its time.
    static void finishedReading(Poco::Net::HTTPServerRequest& request) {
        if (auto* deadline = RequestReadDeadline::of(request)) deadline->disarm();
    }

    // Reads at most 64 KiB; a chunked body that goes past it is refused without reading the rest.
    std::string readBody(Poco::Net::HTTPServerRequest& request) {
        std::string body;
        std::istream& stream = request.stream();
        char buffer[8192];
        while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
            body.append(buffer, static_cast<std::size_t>(stream.gcount()));
            if (body.size() > ApiServer::kMaxBodyBytes) {
                throw Error(ErrorCode::PayloadTooLarge, "The request body is larger than 64 KiB.");
            }
        }
        // Poco's stream ends quietly when the connection does (the client left, or its body's deadline passed):
        // a cut body is never handed to a route.
        const auto declared = request.getContentLength64();
        if (declared >= 0 && static_cast<Poco::Int64>(body.size()) < declared) {
            bodyCut_ = true;
            throw Error(ErrorCode::ValidationFailed, "The request body ended before its declared length.");
        }
        return body;
    }

    void authenticate(const Poco::Net::HTTPServerRequest& request, ApiRequest& apiRequest) const {
        if (route_->access == Access::Public) return;
        auto token = bearerToken(request);
        if (!token) throw Error(ErrorCode::Unauthenticated, "A bearer token is required.");
        Principal principal = verifier_.verify(*token);
        const bool panelRole = principal.role == Role::Support || principal.role == Role::OrgAdmin;
        const bool allowed = route_->access == Access::Panel ? panelRole : principal.role == Role::SyncEngine;
        if (!allowed) throw Error(ErrorCode::Forbidden, "This token's role may not use this endpoint.");
        apiRequest.principal = std::move(principal);
    }

    // An unread body left on a keep-alive connection would be parsed as the next request: read a small one to its
    // end. A larger or unbounded one is not read (the caller may not even hold a valid token), nor one the client
    // holds back until we say 100 Continue: false tells the caller to close the connection instead.
    static bool drain(Poco::Net::HTTPServerRequest& request) {
        const auto length = request.getContentLength64();
        if (length == Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH) return !request.getChunkedTransferEncoding();
        if (length == 0) return true;
        if (length > static_cast<Poco::Int64>(kDrainBytes) || request.getExpectContinue()) return false;
        Poco::NullOutputStream discard;
        Poco::StreamCopier::copyStream(request.stream(), discard);
        return true;
    }

    // Closing a socket with unread bytes makes the kernel reset the connection, and a client still sending its
    // oversized body would lose our 413. Like nginx's lingering close: stop sending, then discard what arrives for
    // a short, bounded while.
    static void lingeringClose(Poco::Net::HTTPServerRequest& request) {
        constexpr int kLingerBytes = 4 * 1024 * 1024;
        const Poco::Timespan kLingerWait(0, 250000);
        auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
        try {
            socket.shutdownSend();
            socket.setReceiveTimeout(kLingerWait);
            char buffer[16384];
            for (int discarded = 0; discarded < kLingerBytes;) {
                const int received = socket.receiveBytes(buffer, sizeof buffer);
                if (received <= 0) break;
                discarded += received;
            }
        } catch (const Poco::Exception& error) {
            logger("http")->debug("lingering close ended: {}", error.displayText());  // rare: not the hot path
        }
    }

    static void send(const ApiResponse& answer, Poco::Net::HTTPServerResponse& response) {
        response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
        for (const auto& [name, value] : answer.headers) response.set(name, value);
        if (answer.status == 204 || answer.body.empty()) {
            response.setContentLength(0);
            response.send().flush();
            return;
        }
        response.setContentType(answer.contentType);
        response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
        response.send().write(answer.body.data(), static_cast<std::streamsize>(answer.body.size())).flush();
    }

    const ApiFamily& family_;
    const ApiRequestHandlerFactory::FamilyInstruments& instruments_;
    const Route* route_;
    std::map<std::string, std::string> parameters_;
    BearerVerifier& verifier_;
    spdlog::logger& log_;
    bool bodyCut_ = false;
};

}  // namespace

Metrics::Counter& ApiRequestHandlerFactory::FamilyInstruments::requests(int status) const {
    auto found = requestsByStatus.find(status);
    return found != requestsByStatus.end() ? *found->second : *requestsWithOtherStatus;
}

ApiRequestHandlerFactory::Family ApiRequestHandlerFactory::describe(std::shared_ptr<ApiFamily> api) {
    static constexpr int kStatuses[] = {200, 201, 204, 302, 400, 401, 403, 404, 409, 413, 422, 500, 503};
    const std::string family = "family=\"" + std::string(api->name()) + "\"";
    Family described{std::move(api), {}};
    described.instruments.duration = &metrics_.histogram("bridge_http_request_duration_seconds", family);
    for (int status : kStatuses) {
        described.instruments.requestsByStatus[status] =
            &metrics_.counter("bridge_http_requests_total", family + ",status=\"" + std::to_string(status) + "\"");
    }
    described.instruments.requestsWithOtherStatus =
        &metrics_.counter("bridge_http_requests_total", family + ",status=\"other\"");
    return described;
}

ApiRequestHandlerFactory::ApiRequestHandlerFactory(std::vector<std::shared_ptr<ApiFamily>> families,
                                                   const TokenAuthority& authority, Metrics& metrics)
    : metrics_(metrics), verifier_(authority), log_(logger("http")) {
    for (auto& family : families) families_.push_back(describe(std::move(family)));
    fallback_ = describe(std::make_shared<UnownedPaths>());
}

Poco::Net::HTTPRequestHandler* ApiRequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest& request) {
    std::string_view path = request.getURI();
    path = path.substr(0, path.find('?'));
    for (const auto& family : families_) {
        if (!family.api->owns(path)) continue;
        std::map<std::string, std::string> parameters;
        for (const auto& route : family.api->routes()) {
            if (route.method == request.getMethod() && matchPathTemplate(route.pathTemplate, path, parameters)) {
                return new ApiRequestHandler(*family.api, family.instruments, &route, std::move(parameters), verifier_,
                                             *log_);
            }
        }
        return new ApiRequestHandler(*family.api, family.instruments, nullptr, {}, verifier_, *log_);
    }
    return new ApiRequestHandler(*fallback_.api, fallback_.instruments, nullptr, {}, verifier_, *log_);
}

}  // namespace bridge
