#include "standin/SalesforceIds.h"

#include <cctype>
#include <stdexcept>

namespace bridge::standin {
namespace {

constexpr std::string_view kChecksumAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
constexpr std::size_t kChunkLength = 5;
constexpr std::size_t kShortLength = 15;
constexpr std::size_t kLongLength = 18;

bool isAsciiUpper(char character) { return character >= 'A' && character <= 'Z'; }

bool isAsciiLetter(char character) { return isAsciiUpper(character) || (character >= 'a' && character <= 'z'); }

bool isAsciiAlphanumeric(char character) { return isAsciiLetter(character) || (character >= '0' && character <= '9'); }

std::string checksumOf(std::string_view shortId) {
    std::string checksum;
    for (std::size_t chunk = 0; chunk < kShortLength / kChunkLength; ++chunk) {
        std::size_t upperCaseBits = 0;
        for (std::size_t position = 0; position < kChunkLength; ++position) {
            if (isAsciiUpper(shortId[chunk * kChunkLength + position])) upperCaseBits |= std::size_t{1} << position;
        }
        checksum += kChecksumAlphabet[upperCaseBits];
    }
    return checksum;
}

[[noreturn]] void throwNotAnId(std::string_view id, std::string_view why) {
    throw std::invalid_argument("not a Salesforce id (" + std::string(why) + "): '" + std::string(id) + "'");
}

}  // namespace

std::string toEighteenCharacterId(std::string_view id) {
    if (id.size() != kShortLength && id.size() != kLongLength) throwNotAnId(id, "15 or 18 characters expected");
    for (char character : id) {
        if (!isAsciiAlphanumeric(character)) throwNotAnId(id, "letters and digits only");
    }
    if (id.size() == kShortLength) return std::string(id) + checksumOf(id);

    std::string canonical(id.substr(0, kShortLength));
    for (std::size_t chunk = 0; chunk < kShortLength / kChunkLength; ++chunk) {
        char checksumCharacter = static_cast<char>(std::toupper(static_cast<unsigned char>(id[kShortLength + chunk])));
        std::size_t upperCaseBits = kChecksumAlphabet.find(checksumCharacter);
        if (upperCaseBits == std::string_view::npos) throwNotAnId(id, "bad checksum character");
        for (std::size_t position = 0; position < kChunkLength; ++position) {
            char& character = canonical[chunk * kChunkLength + position];
            bool upper = (upperCaseBits >> position) & 1U;
            if (isAsciiLetter(character)) {
                character = static_cast<char>(upper ? std::toupper(character) : std::tolower(character));
            } else if (upper) {
                throwNotAnId(id, "checksum marks a digit as upper case");
            }
        }
    }
    return canonical + checksumOf(canonical);
}

}  // namespace bridge::standin
