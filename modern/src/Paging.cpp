#include "modern/Paging.h"

#include <Poco/NumberParser.h>

#include "bridge/crypto/Secrets.h"
#include "bridge/services/Directory.h"

namespace bridge::modern {

namespace {

constexpr std::string_view kCursorPrefix = "k:";

}  // namespace

PageRequest pageRequestOf(const ApiRequest& request) {
    PageRequest page;
    if (auto limit = request.queryParameter("limit")) {
        int value = 0;
        if (!Poco::NumberParser::tryParse(*limit, value)) throwValidation("limit", "limit must be an integer");
        checkPageLimit(value, "limit");
        page.limit = value;
    }
    if (auto cursor = request.queryParameter("cursor"); cursor && !cursor->empty()) {
        auto decoded = base64UrlDecode(*cursor);
        Poco::Int64 key = 0;
        if (!decoded || decoded->rfind(kCursorPrefix, 0) != 0 ||
            !Poco::NumberParser::tryParse64(decoded->substr(kCursorPrefix.size()), key)) {
            throwValidation("cursor", "cursor is not one this server gave out");
        }
        page.afterKey = key;
    }
    return page;
}

std::string cursorFor(std::int64_t lastKey) {
    return base64UrlEncode(std::string(kCursorPrefix) + std::to_string(lastKey));
}

}  // namespace bridge::modern
