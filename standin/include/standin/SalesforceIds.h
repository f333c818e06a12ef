#pragma once

#include <string>
#include <string_view>

namespace bridge::standin {

// The 18-character, canonical form of a Salesforce id given in either form: a 15-character id gets its three
// checksum characters; an 18-character id gets the letter case of its first 15 characters restored from its
// checksum (the long form is case-insensitive). Throws std::invalid_argument for anything that is not an id.
std::string toEighteenCharacterId(std::string_view id);

}  // namespace bridge::standin
