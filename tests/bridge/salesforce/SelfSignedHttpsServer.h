#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>

#include <memory>
#include <string>

namespace bridge {

// An HTTPS server on a loopback port whose certificate (CN=127.0.0.1) is self-signed, i.e. trusted by no CA store.
// Every request that gets through the handshake is answered 200 with a token-endpoint-shaped JSON body.
class SelfSignedHttpsServer {
public:
    SelfSignedHttpsServer();
    ~SelfSignedHttpsServer();
    SelfSignedHttpsServer(const SelfSignedHttpsServer&) = delete;
    SelfSignedHttpsServer& operator=(const SelfSignedHttpsServer&) = delete;

    std::string baseUrl() const;  // "https://127.0.0.1:PORT"

private:
    Poco::Net::Context::Ptr context_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace bridge
