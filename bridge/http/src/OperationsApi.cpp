#include "bridge/http/OperationsApi.h"

#include "bridge/http/ProblemJson.h"

namespace bridge {

OperationsApi::OperationsApi(Store& store, Metrics& metrics, std::string openApiDocument) {
    routes_ = {
        {"GET", "/healthz", Access::Public, [](ApiRequest&) { return ApiResponse::json(200, R"({"status":"up"})"); }},
        {"GET", "/readyz", Access::Public,
         [&store](ApiRequest&) {
             if (!store.ping()) throw Error(ErrorCode::StoreUnavailable, "The store is unreachable.");
             return ApiResponse::json(200, R"({"status":"ready"})");
         }},
        {"GET", "/metrics", Access::Public,
         [&metrics](ApiRequest&) {
             ApiResponse response = ApiResponse::json(200, metrics.render());
             response.contentType = "text/plain; version=0.0.4";
             return response;
         }},
        {"GET", "/openapi.json", Access::Public,
         [document = std::move(openApiDocument)](ApiRequest&) { return ApiResponse::json(200, document); }},
    };
}

bool OperationsApi::owns(std::string_view path) const {
    return path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/openapi.json";
}

ApiResponse OperationsApi::errorResponse(const Error& error) const { return problemResponse(error); }

}  // namespace bridge
