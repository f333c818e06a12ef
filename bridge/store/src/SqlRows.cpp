#include "SqlRows.h"

namespace bridge::sql {

std::string idList(const std::vector<Poco::Int64>& ids) {
    std::string list;
    for (const auto id : ids) {
        if (!list.empty()) list += ',';
        list += std::to_string(id);
    }
    return list;
}

}  // namespace bridge::sql
