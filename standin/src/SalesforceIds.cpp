#include "standin/SalesforceIds.h"

#include <stdexcept>

#include "mappings/SalesforceIds.h"

namespace bridge::standin {

std::string toEighteenCharacterId(std::string_view id) {
    auto canonical = mappings::toSalesforceId18(id);
    if (!canonical) throw std::invalid_argument("not a Salesforce id: '" + std::string(id) + "'");
    return *canonical;
}

}  // namespace bridge::standin
