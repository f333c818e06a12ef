// The MySQL/MariaDB address of store.dsn and legacy.dsn.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bridge/base/Config.h"
#include "bridge/store/MySqlAddress.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        const bridge::MySqlAddress address = bridge::MySqlAddress::parse(input, "store.dsn");
        if (address.user.empty() || address.host.empty() || address.database.empty() || address.port == 0) {
            __builtin_trap();
        }
        address.redacted();
    } catch (const bridge::ConfigError&) {
        // refused: the documented answer to a bad address
    }
    return 0;
}
