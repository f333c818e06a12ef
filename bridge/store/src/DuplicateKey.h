#pragma once

#include "bridge/base/Error.h"

namespace bridge::sql {

// A write that a unique key refused. An id allocation that lost a race catches it and tries again; any other
// caller sees the store's failure like every other database error.
class DuplicateKey : public Error {
public:
    DuplicateKey() : Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.") {}
};

}  // namespace bridge::sql
