#include "SelfSignedHttpsServer.h"

#include <Poco/Crypto/EVPPKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace bridge {
namespace {

class GrantingHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& response) override {
        response.setContentType("application/json");
        response.send() << R"({"access_token":"granted","instance_url":"https://127.0.0.1"})";
    }
};

class GrantingHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new GrantingHandler;
    }
};

Poco::Crypto::X509Certificate selfSignedCertificate(Poco::Crypto::EVPPKey& key) {
    X509* certificate = X509_new();
    if (certificate == nullptr) throw std::runtime_error("X509_new failed");
    Poco::Crypto::X509Certificate owned(certificate);  // frees it whatever happens next
    X509_NAME* name = X509_get_subject_name(certificate);
    const bool built =
        X509_set_version(certificate, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(certificate), -60) != nullptr &&
        X509_gmtime_adj(X509_getm_notAfter(certificate), 3600) != nullptr && X509_set_pubkey(certificate, key) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1,
                                   -1, 0) == 1 &&
        X509_set_issuer_name(certificate, name) == 1 && X509_sign(certificate, key, EVP_sha256()) > 0;
    if (!built) throw std::runtime_error("building a self-signed certificate failed");
    return owned;
}

}  // namespace

SelfSignedHttpsServer::SelfSignedHttpsServer() {
    Poco::Crypto::EVPPKey key("prime256v1");
    context_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, Poco::Net::Context::Params());
    context_->useCertificate(selfSignedCertificate(key));
    context_->usePrivateKey(key);
    const Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 16, context_);
    server_ =
        std::make_unique<Poco::Net::HTTPServer>(new GrantingHandlerFactory, socket, new Poco::Net::HTTPServerParams);
    server_->start();
}

SelfSignedHttpsServer::~SelfSignedHttpsServer() { server_->stopAll(true); }

std::string SelfSignedHttpsServer::baseUrl() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

}  // namespace bridge
