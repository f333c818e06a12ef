#include "EventColumns.h"

#include "SqlRows.h"
#include "SqlValues.h"

namespace bridge::sql {

void EventColumns::add(const Event& event) {
    orgIds.push_back(event.orgId);
    times.push_back(event.at);
    types.emplace_back(eventTypeName(event.type));
    panels.push_back(event.panel ? Nullable<std::string>(std::string(panelColumn(*event.panel)))
                                 : Nullable<std::string>());
    actors.push_back(toNullable(event.actor));
    details.push_back(toNullable(event.detail));
}

void insertEvents(Session& session, EventColumns&& rows, const OpenRowWriter& openRowWriter) {
    insertRows(session, openRowWriter, "events", "org_id, at, type, panel, actor, detail", rows.orgIds, rows.times,
               rows.types, rows.panels, rows.actors, rows.details);
}

}  // namespace bridge::sql
