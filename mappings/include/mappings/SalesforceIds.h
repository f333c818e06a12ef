#pragma once

#include <optional>
#include <string>
#include <string_view>

// Salesforce ids (SALESFORCE.md, "Ids"): a 15-character case-sensitive form and an 18-character form that appends
// a checksum of the letter case. Ids are stored and compared only in the 18-character form.

namespace bridge::mappings {

// A 15-character id gets its suffix appended. An 18-character id, case-insensitive, gets the letter case of its
// first 15 characters restored from its suffix. Anything else (another length, a character that is not an ASCII
// letter or digit, a suffix outside the alphabet or marking a digit as upper case) is not an id: nullopt.
std::optional<std::string> toSalesforceId18(std::string_view id);

// Whether both are valid ids naming the same record, whichever form each is given in.
bool sameSalesforceId(std::string_view a, std::string_view b);

}  // namespace bridge::mappings
