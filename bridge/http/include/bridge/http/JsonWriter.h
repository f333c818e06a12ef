#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge {

// Writes compact JSON straight into a string, in the order fields are given. Cheaper than building a
// Poco::JSON tree on the hot paths, and the field order of the contract's examples is kept.
class JsonWriter {
public:
    JsonWriter& beginObject();
    JsonWriter& endObject();
    JsonWriter& beginArray();
    JsonWriter& endArray();
    // Starts a member of the current object; follow with a value, an object or an array.
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(std::int64_t number);
    JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
    JsonWriter& value(bool flag);
    JsonWriter& null();
    template <typename T>
    JsonWriter& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }

    template <typename T>
    JsonWriter& field(std::string_view name, const T& fieldValue) {
        key(name);
        return value(fieldValue);
    }

    std::string take() { return std::move(out_); }

private:
    void separate();

    std::string out_;
    bool needsComma_ = false;
};

}  // namespace bridge
