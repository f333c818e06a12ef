#pragma once

// The words both panels share, independent of how either spells them on the wire.
// mappings/ translates them to and from each panel's and the legacy database's spelling.

namespace bridge {

// The one state machine of a Salesforce connection (see docs/architecture.md).
// Legacy spelling: NotConnected, Established, Lost.
enum class ConnectionStatus { NotConnected, Connected, Disconnected };

enum class Environment { Production, Sandbox };

// Which admin panel an action came from.
enum class Panel { Legacy, Modern };

}  // namespace bridge
