#include "bridge/http/JsonBody.h"

#include <Poco/Exception.h>
#include <Poco/JSON/JSONException.h>
#include <Poco/JSON/Parser.h>

#include "bridge/base/Error.h"

namespace bridge {

JsonBody JsonBody::parse(const std::string& body, bool emptyAllowed) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (emptyAllowed) return JsonBody(new Poco::JSON::Object);
        throwValidation("body", "a JSON object body is required");
    }
    try {
        // One parser per thread, reset between bodies: building one per request costs more than parsing a small
        // body.
        thread_local Poco::JSON::Parser parser;
        parser.reset();
        Poco::Dynamic::Var parsed = parser.parse(body);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) throwValidation("body", "the body must be a JSON object");
        return JsonBody(parsed.extract<Poco::JSON::Object::Ptr>());
    } catch (const Poco::Exception&) {
        throwValidation("body", "the body is not valid JSON");
    }
}

bool JsonBody::has(const std::string& name) const { return object_->has(name); }

bool JsonBody::isNull(const std::string& name) const { return object_->has(name) && object_->isNull(name); }

std::string JsonBody::requiredString(const std::string& name) const {
    auto value = optionalString(name);
    if (!value) throwValidation(name, name + " is required");
    return *value;
}

std::optional<std::string> JsonBody::optionalString(const std::string& name) const {
    if (!object_->has(name) || object_->isNull(name)) return std::nullopt;
    const Poco::Dynamic::Var value = object_->get(name);
    if (!value.isString()) throwValidation(name, name + " must be a string");
    return value.extract<std::string>();
}

std::optional<bool> JsonBody::optionalBool(const std::string& name) const {
    if (!object_->has(name) || object_->isNull(name)) return std::nullopt;
    const Poco::Dynamic::Var value = object_->get(name);
    if (!value.isBoolean()) throwValidation(name, name + " must be true or false");
    return value.extract<bool>();
}

std::optional<std::int64_t> JsonBody::optionalInteger(const std::string& name) const {
    if (!object_->has(name) || object_->isNull(name)) return std::nullopt;
    const Poco::Dynamic::Var value = object_->get(name);
    if (!value.isInteger() || value.isBoolean()) throwValidation(name, name + " must be an integer");
    try {
        return value.convert<Poco::Int64>();
    } catch (const Poco::RangeException&) {  // an unsigned 64-bit number above the signed range
        throwValidation(name, name + " is out of range");
    }
}

std::optional<std::optional<std::string>> JsonBody::nullableString(const std::string& name) const {
    if (!object_->has(name)) return std::nullopt;
    if (object_->isNull(name)) return std::optional<std::string>();
    return optionalString(name);
}

}  // namespace bridge
