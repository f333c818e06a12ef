#pragma once

#include <string>

#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/LegacyDataManifest.h"
#include "testsupport/MariaDbServer.h"

namespace bridge::testsupport {

// A new legacy database on `server`, filled by the generator, with a user that may only read it (the migrator's
// legacy.dsn is server.dsn(database, reader, password)).
inline LegacyDataManifest createLegacyDatabase(MariaDbServer& server, const LegacyDataSpec& spec,
                                               const std::string& database = "legacy",
                                               const std::string& reader = "reader",
                                               const std::string& password = "secret") {
    server.createDatabase(database);
    server.createReadOnlyUser(reader, password, database);
    return LegacyDataGenerator(spec).generate(*server.connectAsRoot(database));
}

}  // namespace bridge::testsupport
