// Webhook notifications as the outbox table holds them; private to the store.
#pragma once

#include <Poco/Data/Session.h>

#include <cstdint>

#include "bridge/store/Model.h"

namespace bridge::sql {

// Inserts the transition's notification in the caller's transaction, pending and due at once, with `users` the
// number of users the transition suspended or recovered.
void insertNotification(Poco::Data::Session& session, const Notification& notification, std::int64_t users);

}  // namespace bridge::sql
