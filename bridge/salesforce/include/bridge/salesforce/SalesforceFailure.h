#pragma once

#include <string>

namespace bridge {

// Why a call to Salesforce gave no usable answer. error and description are Salesforce's own words when it sent
// an OAuth error, else a short code and text of ours (timeout, connection_failed, ...). Never holds a token.
struct SalesforceFailure {
    enum class Kind {
        PermanentRefusal,  // the grant is dead: only a fresh login helps
        Transient,         // try again later with nothing changed
    };

    Kind kind = Kind::Transient;
    std::string error;
    std::string description;

    // "error: description", as stored in a connection's lastError.
    std::string reason() const;
};

}  // namespace bridge
