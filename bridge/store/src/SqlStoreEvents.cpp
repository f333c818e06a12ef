// SqlStore: a connection's event history.
#include <Poco/Tuple.h>

#include "EventColumns.h"
#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

void SqlStore::appendEvent(const Event& event) {
    inTransaction([&](Session& session) { insertEvents(session, EventColumns({event}), rowWriterOpener(session)); });
}

std::vector<Event> SqlStore::listEvents(std::int64_t orgId, std::int64_t beforeEventId, int limit) {
    return withSession([&](Session& session) {
        using EventRow = Poco::Tuple<Int64, Int64, Int64, std::string, Nullable<std::string>, Nullable<std::string>,
                                     Nullable<std::string>>;
        std::vector<EventRow> rows;
        session << "SELECT id, org_id, at, type, panel, actor, detail FROM events WHERE org_id = ? AND id < ? "
                   "ORDER BY id DESC LIMIT ?",
            bind(Int64{orgId}), bind(Int64{beforeEventId}), bind(Int64{limit}), into(rows), now;
        std::vector<Event> events;
        for (const auto& row : rows) {
            Event event;
            event.id = row.get<0>();
            event.orgId = row.get<1>();
            event.at = row.get<2>();
            event.type = parseEventType(row.get<3>()).value_or(EventType::Connected);
            if (!row.get<4>().isNull()) event.panel = panelFromColumn(row.get<4>().value());
            event.actor = toOptional(row.get<5>());
            event.detail = toOptional(row.get<6>());
            events.push_back(std::move(event));
        }
        return events;
    });
}

}  // namespace bridge
