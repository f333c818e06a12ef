// Events as one vector per column, written like ConnectionColumns; private to the store.
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Nullable.h>

#include <string>
#include <vector>

#include "bridge/store/Model.h"
#include "bridge/store/RowWriter.h"

namespace bridge::sql {

struct EventColumns {
    std::vector<Poco::Int64> orgIds, times;
    std::vector<std::string> types;
    std::vector<Poco::Nullable<std::string>> panels, actors, details;

    EventColumns() = default;
    explicit EventColumns(const std::vector<Event>& events) {
        for (const auto& event : events) add(event);
    }
    void add(const Event& event);
};

void insertEvents(Poco::Data::Session& session, EventColumns&& rows, const OpenRowWriter& openRowWriter);

}  // namespace bridge::sql
