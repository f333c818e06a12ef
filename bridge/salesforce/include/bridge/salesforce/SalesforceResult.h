#pragma once

#include <utility>
#include <variant>

#include "bridge/salesforce/SalesforceFailure.h"

namespace bridge {

// What a call to Salesforce produced: the value it asked for, or why there is none.
template <typename Value>
class SalesforceResult {
public:
    // Implicit, like std::optional's, so that a call returns either alternative plainly.
    SalesforceResult(Value value) : outcome_(std::move(value)) {}
    SalesforceResult(SalesforceFailure failure) : outcome_(std::move(failure)) {}

    bool succeeded() const { return std::holds_alternative<Value>(outcome_); }

    // Each throws std::bad_variant_access when the result is the other alternative.
    const Value& value() const { return std::get<Value>(outcome_); }
    const SalesforceFailure& failure() const { return std::get<SalesforceFailure>(outcome_); }

private:
    std::variant<Value, SalesforceFailure> outcome_;
};

}  // namespace bridge
