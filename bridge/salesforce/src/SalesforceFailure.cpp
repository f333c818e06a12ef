#include "bridge/salesforce/SalesforceFailure.h"

namespace bridge {

std::string SalesforceFailure::reason() const { return description.empty() ? error : error + ": " + description; }

}  // namespace bridge
