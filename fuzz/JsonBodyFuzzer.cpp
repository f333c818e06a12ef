// The JSON body reader every panel and broker route parses request bodies with, and its typed accessors.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bridge/base/Error.h"
#include "bridge/http/JsonBody.h"

namespace {

// A body the reader refuses must be refused as a validation failure (a 400), never as anything else.
template <typename Read>
void expectReadOrValidationFailure(Read read) {
    try {
        read();
    } catch (const bridge::Error& error) {
        if (error.code() != bridge::ErrorCode::ValidationFailed) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    // Field names the routes read; every accessor on each, since any of them may meet any value.
    static const char* const kNames[] = {"name", "id", "active", "environment", "displayName", "email", ""};
    expectReadOrValidationFailure([&] {
        const bridge::JsonBody json = bridge::JsonBody::parse(body, size % 2 == 0);
        for (const char* name : kNames) {
            json.has(name);
            json.isNull(name);
            expectReadOrValidationFailure([&] { json.optionalString(name); });
            expectReadOrValidationFailure([&] { json.optionalBool(name); });
            expectReadOrValidationFailure([&] { json.optionalInteger(name); });
            expectReadOrValidationFailure([&] { json.nullableString(name); });
            expectReadOrValidationFailure([&] { json.requiredString(name); });
        }
    });
    return 0;
}
