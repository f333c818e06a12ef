#pragma once

#include <string>

namespace bridge {

// A token as it may rest anywhere outside the broker and the Salesforce client: AES-256-GCM ciphertext
// (base64 of nonce || ciphertext || tag) and the id of the key that sealed it.
struct SealedToken {
    std::string keyId;
    std::string ciphertext;
};

}  // namespace bridge
