// The store's private helpers shared by the SqlStore*.cpp files: how values travel between the model and the
// columns. Not installed; only the store's sources include it.
#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Nullable.h>
#include <Poco/Types.h>

#include <optional>
#include <string>
#include <string_view>

#include "bridge/store/Model.h"

namespace bridge::sql {

using Poco::Int64;
using Poco::Nullable;
using Poco::Data::Session;

// Who wrote a row: the migrator, or the server (an admin through a panel, a login, the broker).
inline constexpr std::string_view kOriginMigration = "migration";
inline constexpr std::string_view kOriginPanel = "panel";
inline constexpr std::string_view kWrittenByMigration = "migration";
inline constexpr std::string_view kWrittenByService = "service";

UnixSeconds nowSeconds();

template <typename T>
Poco::Nullable<T> toNullable(const std::optional<T>& value) {
    return value ? Poco::Nullable<T>(*value) : Poco::Nullable<T>();
}

template <typename T>
std::optional<T> toOptional(const Poco::Nullable<T>& value) {
    return value.isNull() ? std::nullopt : std::optional<T>(value.value());
}

// How the store spells a connection status, an environment and a panel in its own columns. These are storage
// identifiers, not either panel's wire names (those live in mappings/).
std::string_view statusColumn(ConnectionStatus status);
ConnectionStatus statusFromColumn(const std::string& value);
std::string_view environmentColumn(Environment environment);
Environment environmentFromColumn(const std::string& value);
std::string_view panelColumn(Panel panel);
Panel panelFromColumn(const std::string& value);

}  // namespace bridge::sql
