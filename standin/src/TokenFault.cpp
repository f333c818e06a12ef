#include "TokenFault.h"

#include <array>
#include <utility>

namespace bridge::standin {

std::optional<FaultKind> faultKindFromName(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, FaultKind>, 7> kNames{{
        {"status500", FaultKind::Status500},
        {"hang", FaultKind::Hang},
        {"nonJson", FaultKind::NonJson},
        {"drop", FaultKind::Drop},
        {"processing", FaultKind::Processing},
        {"invalidGrant", FaultKind::InvalidGrant},
        {"invalidClient", FaultKind::InvalidClient},
    }};
    for (const auto& [kindName, kind] : kNames) {
        if (kindName == name) return kind;
    }
    return std::nullopt;
}

}  // namespace bridge::standin
