// The legacy token decryptor, as the migrator feeds it every refresh_token_enc of the legacy database, and its
// key list (legacy.tokenKeys).
//
// Inputs starting with 'K' are a key list; the others are a column value, opened under two fixed keys.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "bridge/base/Config.h"
#include "migrations/LegacyTokenDecryptor.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bridge::migrations::LegacyTokenDecryptor decryptor(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f,"
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.starts_with('K')) {
        try {
            const bridge::migrations::LegacyTokenDecryptor fromInput(input.substr(1));
            if (fromInput.keyCount() == 0) __builtin_trap();  // a list that parses holds at least one key
        } catch (const bridge::ConfigError&) {
            // refused: the documented answer to a bad key list
        }
        return 0;
    }
    const auto result = decryptor.decryptOrExplain(input);
    if (const auto* token = std::get_if<std::string>(&result)) {
        // What it hands on is what a Salesforce refresh token is: non-empty printable ASCII.
        if (token->empty()) __builtin_trap();
        for (const char c : *token) {
            if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E) __builtin_trap();
        }
    }
    return 0;
}
