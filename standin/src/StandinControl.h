#pragma once

#include "StandinAnswer.h"
#include "StandinRequest.h"
#include "StandinState.h"

namespace bridge::standin {

// The JSON control interface under /control/ that tests and `bridge demo` drive the stand-in with.
class StandinControl {
public:
    explicit StandinControl(StandinState& state);

    StandinAnswer handle(const StandinRequest& request);

private:
    StandinAnswer dispatch(const StandinRequest& request);

    StandinState& state_;
};

}  // namespace bridge::standin
