// The strict base64 codecs: legacy tokens and crypto.keys are standard base64, JWT segments base64url.
//
// Strict means one accepted spelling per byte string, so whatever decodes must encode back to the very input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bridge/crypto/Secrets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (const auto bytes = bridge::base64Decode(input)) {
        if (bridge::base64Encode(*bytes) != input) __builtin_trap();
    }
    if (const auto bytes = bridge::base64UrlDecode(input)) {
        if (bridge::base64UrlEncode(*bytes) != input) __builtin_trap();
    }
    // And the other way round: every byte string survives the trip.
    if (bridge::base64Decode(bridge::base64Encode(input)) != input) __builtin_trap();
    if (bridge::base64UrlDecode(bridge::base64UrlEncode(input)) != input) __builtin_trap();
    return 0;
}
