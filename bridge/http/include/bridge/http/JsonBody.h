#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <optional>
#include <string>

namespace bridge {

// A request body that must be a JSON object. Every accessor checks the field's type and throws
// Error(ValidationFailed) naming the field; no handler inspects JSON by hand.
class JsonBody {
public:
    // An empty body reads as {} when `emptyAllowed`; anything but an object is refused.
    static JsonBody parse(const std::string& body, bool emptyAllowed = false);

    bool has(const std::string& name) const;
    bool isNull(const std::string& name) const;

    std::string requiredString(const std::string& name) const;
    std::optional<std::string> optionalString(const std::string& name) const;  // absent or null -> nullopt
    std::optional<bool> optionalBool(const std::string& name) const;
    std::optional<std::int64_t> optionalInteger(const std::string& name) const;
    // For PATCH: absent -> nullopt; null -> a present empty value; a string -> that string.
    std::optional<std::optional<std::string>> nullableString(const std::string& name) const;

private:
    explicit JsonBody(Poco::JSON::Object::Ptr object) : object_(std::move(object)) {}
    Poco::JSON::Object::Ptr object_;
};

}  // namespace bridge
