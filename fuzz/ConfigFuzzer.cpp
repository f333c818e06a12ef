// The configuration file (bridge.properties, or an .ini) as `bridge serve --config` reads it, through loadConfig's
// typed keys, and the key lists it carries: crypto.keys (the token cipher's key ring) and a mysql:// store.dsn.
//
// The first input byte picks the file format (odd: .ini), the rest is the file.
#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "bridge/base/Config.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/MySqlAddress.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::istringstream text(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> file;
    try {
        if (data[0] % 2 == 1) {
            file = new Poco::Util::IniFileConfiguration(text);
        } else {
            file = new Poco::Util::PropertyFileConfiguration(text);
        }
    } catch (const Poco::Exception&) {
        return 0;  // a file Poco cannot read: serve exits with its message before loadConfig runs
    }
    const bridge::EnvironmentLookup noEnvironment = [](const std::string&) { return std::optional<std::string>(); };
    try {
        const bridge::Config config = bridge::loadConfig(file.get(), noEnvironment);
        try {
            bridge::TokenCipher::fromSpec(config.crypto.keys, config.crypto.activeKey);
        } catch (const bridge::TokenCipherConfigError&) {
            // refused: the documented answer to a bad key ring
        }
        if (config.store.dsn.starts_with("mysql://")) bridge::MySqlAddress::parse(config.store.dsn, "store.dsn");
    } catch (const bridge::ConfigError&) {
        // refused: the process would exit with code 2 and this message
    }
    return 0;
}
