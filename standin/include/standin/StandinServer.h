#pragma once

#include <memory>
#include <string>

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}  // namespace Net
}  // namespace Poco

namespace bridge::standin {

class StandinState;

struct StandinOptions {
    std::string host = "127.0.0.1";
    int port = 0;  // 0: an ephemeral port, see StandinServer::port()
    std::string clientId = "bridge-demo-client";
    std::string clientSecret = "bridge-demo-secret";
    int threads = 32;  // connections served at once; Poco holds one thread per keep-alive connection
};

// The Salesforce stand-in: an HTTP server that behaves as contracts/SALESFORCE.md says, with a JSON control
// interface under /control/ for identities, faults, policies and counters.
class StandinServer {
public:
    explicit StandinServer(StandinOptions options = {});
    ~StandinServer();

    StandinServer(const StandinServer&) = delete;
    StandinServer& operator=(const StandinServer&) = delete;

    // Listens and serves from background threads. Throws if the address cannot be bound or when called twice.
    void start();
    // Ends hanging and delayed requests, closes every connection and waits for the request threads. Idempotent.
    void stop();

    int port() const;
    std::string baseUrl() const;  // "http://HOST:PORT"

private:
    StandinOptions options_;
    std::shared_ptr<StandinState> state_;
    std::unique_ptr<Poco::ThreadPool> threadPool_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    int port_ = 0;
    bool started_ = false;
};

}  // namespace bridge::standin
