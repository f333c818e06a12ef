#include "testsupport/LegacyDataGenerator.h"

#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "mappings/SalesforceIds.h"
#include "mappings/Times.h"

namespace bridge::testsupport {

namespace {

constexpr int kRowsPerStatement = 2000;
constexpr std::int64_t kFirstCreatedAt = 1420070400;  // 2015-01-01 00:00:00 UTC
constexpr std::int64_t kTimeSpread = 10LL * 365 * 86400;

// splitmix64: a tiny generator whose output is the same on every platform, unlike std's distributions.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t bound) { return next() % bound; }
    bool percent(int chance) { return below(100) < static_cast<std::uint64_t>(chance); }

private:
    std::uint64_t state_;
};

std::uint64_t mix(std::uint64_t seed, std::uint64_t stream, std::uint64_t id) {
    return Random(seed ^ (stream * 0xD1B54A32D192ED03ULL) ^ (id * 0x8CB92BA72F3D8DD7ULL)).next();
}

std::string hex(const unsigned char* bytes, std::size_t count) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (std::size_t i = 0; i < count; ++i) {
        text += kDigits[bytes[i] >> 4];
        text += kDigits[bytes[i] & 0xF];
    }
    return text;
}

using Key = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Key deriveKey(const std::string& purpose, std::uint64_t seed) {
    const std::string material = purpose + ":" + std::to_string(seed);
    Key key{};
    SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), key.data());
    return key;
}

std::string base64(const std::string& bytes) {
    std::string text(4 * ((bytes.size() + 2) / 3), '\0');
    const int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    text.resize(static_cast<std::size_t>(written));
    return text;
}

// The legacy panel's format: base64(iv || AES-256-CBC-PKCS7(key, iv, plaintext)).
std::string legacyEncrypt(const Key& key, const std::string& plaintext, Random& random) {
    std::array<unsigned char, 16> iv{};
    for (auto& byte : iv) byte = static_cast<unsigned char>(random.next());
    const std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                                  &EVP_CIPHER_CTX_free);
    std::string output(iv.size() + plaintext.size() + 16, '\0');
    std::copy(iv.begin(), iv.end(), output.begin());
    auto* out = reinterpret_cast<unsigned char*>(output.data()) + iv.size();
    int written = 0;
    int finalWritten = 0;
    if (!context || EVP_EncryptInit_ex(context.get(), EVP_aes_256_cbc(), nullptr, key.data(), iv.data()) != 1 ||
        EVP_EncryptUpdate(context.get(), out, &written, reinterpret_cast<const unsigned char*>(plaintext.data()),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(context.get(), out + written, &finalWritten) != 1) {
        throw std::runtime_error("LegacyDataGenerator: AES-256-CBC encryption failed");
    }
    output.resize(iv.size() + static_cast<std::size_t>(written + finalWritten));
    return base64(output);
}

std::string alphanumerics(Random& random, std::size_t count) {
    static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string text;
    for (std::size_t i = 0; i < count; ++i) text += kAlphabet[random.below(kAlphabet.size())];
    return text;
}

std::string salesforceId(std::string_view prefix, Random& random, bool fifteenCharacters) {
    const std::string id15 = std::string(prefix) + alphanumerics(random, 15 - prefix.size());
    return fifteenCharacters ? id15 : *mappings::toSalesforceId18(id15);
}

constexpr std::array<std::string_view, 6> kUnusualNames{
    "Caf\u00e9 \"Zo\u00eb\" \U0001F680 Ltd", "O'Brien & Sons \\ Backslash\tTabbed",
    "\U0001F600\U0001F603\U0001F604",        "Quote ' \" ` mix",
    "\u4E2D\u6587\u540D\u79F0\twith tab",    "trailing backslash \\",
};

constexpr std::array<std::string_view, 3> kLastErrors{
    "invalid_grant: expired access/refresh token",
    "invalid_grant: authentication failure",
    "invalid_grant: inactive user",
};

constexpr std::array<std::string_view, 5> kNotBase64Tokens{
    "not base64!",
    "5Aep861AbCdEf",     // base64 alphabet, but no valid length
    "ab-_cd-_ef-_gh-_",  // the URL-safe alphabet
    "QUJDREVGR0g=\n",    // a trailing newline
    "%%%%",
};

std::string sqlString(std::string_view text) {
    std::string quoted = "'";
    for (char c : text) {
        if (c == '\\' || c == '\'') quoted += '\\';
        if (c == '\0') {
            quoted += "\\0";
            continue;
        }
        quoted += c;
    }
    quoted += '\'';
    return quoted;
}

std::string sqlNullable(const std::optional<std::string>& text) { return text ? sqlString(*text) : "NULL"; }

std::string legacyTime(std::int64_t seconds) { return sqlString(mappings::formatLegacyTime(seconds)); }

// Multi-row INSERTs of up to kRowsPerStatement rows, each its own transaction (autocommit).
class BulkInsert {
public:
    BulkInsert(sql::Connection& connection, std::string head) : connection_(connection), head_(std::move(head)) {}

    void add(const std::string& row) {
        statement_ += rows_ == 0 ? head_ + " VALUES " : ",";
        statement_ += row;
        if (++rows_ == kRowsPerStatement) flush();
    }

    void flush() {
        if (rows_ == 0) return;
        std::unique_ptr<sql::Statement>(connection_.createStatement())->execute(statement_);
        statement_.clear();
        rows_ = 0;
    }

private:
    sql::Connection& connection_;
    std::string head_;
    std::string statement_;
    int rows_ = 0;
};

// What one id of the organizations table's id space becomes.
struct OrganizationPlan {
    bool orphanConnectivityRow = false;  // no organizations row: an orphan
    bool orphanUsers = false;            // no organizations row: an orphan
    LegacyCase connectivity = LegacyCase::Established;
    int variant = 0;  // which of several spellings of a broken token
    bool softDeleted = false;
    bool lowerCaseEnvironment = false;
    bool fifteenCharacterIds = false;
    bool unusualName = false;
    bool caseTwins = false;
    bool inactiveUser = false;
    bool sandbox = false;

    bool orphan() const { return orphanConnectivityRow || orphanUsers; }
};

// The first ids walk through every case, so that even a small database holds them all.
std::vector<OrganizationPlan> prologue() {
    using C = LegacyCase;
    std::vector<OrganizationPlan> plans;
    const auto add = [&](C connectivity, auto&& adjust) {
        OrganizationPlan plan;
        plan.connectivity = connectivity;
        adjust(plan);
        plans.push_back(plan);
    };
    const auto plain = [](OrganizationPlan&) {};
    add(C::Established, plain);
    add(C::EstablishedUnderOldKey, plain);
    add(C::Lost, [](auto& p) { p.caseTwins = true; });
    add(C::TokenNull, plain);
    add(C::TokenEmpty, plain);
    add(C::TokenUnderUnknownKey, plain);
    add(C::TokenNotBase64, plain);
    add(C::ToggleOffWithToken, plain);
    add(C::NeverConnected, plain);
    add(C::NoConnectivityRow, plain);
    add(C::ApiOnlyUser, plain);
    add(C::Established, [](auto& p) { p.orphanConnectivityRow = p.orphanUsers = true; });
    add(C::Established, [](auto& p) { p.softDeleted = true; });
    add(C::Established, [](auto& p) { p.lowerCaseEnvironment = p.fifteenCharacterIds = p.sandbox = true; });
    add(C::Lost, [](auto& p) { p.lowerCaseEnvironment = p.fifteenCharacterIds = true; });
    add(C::Established, [](auto& p) { p.unusualName = p.caseTwins = p.inactiveUser = true; });
    add(C::Established, [](auto& p) { p.orphanConnectivityRow = true; });
    add(C::Established, [](auto& p) { p.orphanUsers = true; });
    for (int variant = 1; variant < static_cast<int>(kNotBase64Tokens.size()); ++variant) {
        add(C::TokenNotBase64, [variant](auto& p) { p.variant = variant; });
    }
    add(C::TokenUnderUnknownKey, [](auto& p) { p.variant = 1; });
    add(C::Lost, [](auto& p) { p.softDeleted = p.caseTwins = true; });
    add(C::NoConnectivityRow, [](auto& p) { p.caseTwins = p.unusualName = true; });
    add(C::EstablishedUnderOldKey, [](auto& p) { p.lowerCaseEnvironment = p.sandbox = p.caseTwins = true; });
    add(C::ToggleOffWithToken, [](auto& p) { p.fifteenCharacterIds = p.inactiveUser = true; });
    return plans;
}

// Production-like rates for every id after the prologue.
OrganizationPlan drawPlan(Random& random) {
    using C = LegacyCase;
    static constexpr std::array<std::pair<C, int>, 11> kWeights{{
        {C::NoConnectivityRow, 10},
        {C::NeverConnected, 8},
        {C::Established, 42},
        {C::EstablishedUnderOldKey, 10},
        {C::Lost, 8},
        {C::TokenNull, 3},
        {C::TokenEmpty, 2},
        {C::TokenUnderUnknownKey, 4},
        {C::TokenNotBase64, 3},
        {C::ToggleOffWithToken, 8},
        {C::ApiOnlyUser, 2},
    }};
    OrganizationPlan plan;
    if (random.percent(1)) {
        const auto kind = random.below(3);
        plan.orphanConnectivityRow = kind != 1;
        plan.orphanUsers = kind != 0;
    }
    auto draw = static_cast<int>(random.below(100));
    for (const auto& [connectivity, weight] : kWeights) {
        if (draw < weight) {
            plan.connectivity = connectivity;
            break;
        }
        draw -= weight;
    }
    if (plan.orphanConnectivityRow && plan.connectivity == C::NoConnectivityRow) plan.connectivity = C::Established;
    plan.variant = static_cast<int>(random.below(plan.connectivity == C::TokenNotBase64 ? kNotBase64Tokens.size() : 2));
    plan.softDeleted = random.percent(2);
    plan.lowerCaseEnvironment = random.percent(20);
    plan.fifteenCharacterIds = random.percent(40);
    plan.unusualName = random.percent(5);
    plan.caseTwins = random.percent(4);
    plan.inactiveUser = random.percent(5);
    plan.sandbox = random.percent(30);
    return plan;
}

bool hasEnvironment(LegacyCase connectivity) {
    return connectivity != LegacyCase::NeverConnected && connectivity != LegacyCase::ApiOnlyUser &&
           connectivity != LegacyCase::NoConnectivityRow;
}

class Writer {
public:
    Writer(const LegacyDataSpec& spec, const LegacyDataGenerator& generator, sql::Connection& connection)
        : spec_(spec),
          generator_(generator),
          organizations_(connection, "INSERT INTO organizations (id, name, created_at, is_deleted)"),
          connectivity_(connection,
                        "INSERT INTO org_salesforce_connectivity (org_id, sa_login_enabled, auth_method, "
                        "sf_environment, sa_user_id, sa_username, sf_org_id, instance_url, refresh_token_enc, status, "
                        "status_changed_at, last_error, updated_at)"),
          users_(connection,
                 "INSERT INTO org_users (id, org_id, email, display_name, sf_user_id, is_active, sync_state, "
                 "sync_error)"),
          currentKey_(deriveKey("legacy-current-key", spec.seed)),
          oldKey_(deriveKey("legacy-old-key", spec.seed)),
          unknownKey_(deriveKey("legacy-rotated-away-key", spec.seed)) {
        manifest_.seed = spec.seed;
        manifest_.currentKeyHex = hex(currentKey_.data(), currentKey_.size());
        manifest_.oldKeyHex = hex(oldKey_.data(), oldKey_.size());
        manifest_.tokenKeys = manifest_.currentKeyHex + "," + manifest_.oldKeyHex;
    }

    LegacyDataManifest write() {
        const auto fixedPlans = prologue();
        std::int64_t id = 0;
        while (manifest_.organizationRows < spec_.organizations) {
            ++id;
            Random random(mix(spec_.seed, 1, static_cast<std::uint64_t>(id)));
            lastErrorOfCurrentOrganization_.reset();
            const auto index = static_cast<std::size_t>(id - 1);
            const OrganizationPlan plan = index < fixedPlans.size() ? fixedPlans[index] : drawPlan(random);
            if (plan.orphan()) {
                writeOrphan(id, plan, random);
            } else {
                writeOrganization(id, plan, random);
            }
        }
        writeNewerCaseTwins();
        organizations_.flush();
        connectivity_.flush();
        users_.flush();
        return std::move(manifest_);
    }

private:
    void note(LegacyCase legacyCase, std::int64_t orgId) { manifest_.organizations[legacyCase].push_back(orgId); }

    void writeOrphan(std::int64_t id, const OrganizationPlan& plan, Random& random) {
        if (plan.orphanConnectivityRow) {
            note(LegacyCase::OrphanConnectivityRow, id);
            writeConnectivity(id, plan, random);
        }
        if (plan.orphanUsers) {
            note(LegacyCase::OrphanUsers, id);
            const int count = 1 + static_cast<int>(random.below(3));
            for (int k = 0; k < count; ++k) {
                manifest_.orphanUsers.push_back(nextUserId_);
                writeUser(id, k, plan, random, false);
            }
        }
    }

    void writeOrganization(std::int64_t id, const OrganizationPlan& plan, Random& random) {
        ++manifest_.organizationRows;
        std::string name = "Organization " + std::to_string(id);
        if (plan.unusualName) name = std::string(kUnusualNames[random.below(kUnusualNames.size())]) + " " + name;
        organizations_.add("(" + std::to_string(id) + "," + sqlString(name) + "," +
                           legacyTime(kFirstCreatedAt + static_cast<std::int64_t>(random.below(kTimeSpread))) + "," +
                           (plan.softDeleted ? "1" : "0") + ")");
        note(plan.connectivity, id);
        if (plan.softDeleted) note(LegacyCase::SoftDeleted, id);
        if (plan.unusualName) note(LegacyCase::UnusualName, id);
        if (plan.fifteenCharacterIds) note(LegacyCase::FifteenCharacterIds, id);
        if (plan.lowerCaseEnvironment && hasEnvironment(plan.connectivity)) {
            note(LegacyCase::LowerCaseEnvironment, id);
        }
        if (plan.connectivity != LegacyCase::NoConnectivityRow) writeConnectivity(id, plan, random);

        for (int k = 0; k < spec_.usersPerOrganization; ++k) {
            const bool inactive = plan.inactiveUser && k == 0;
            if (plan.caseTwins && k == spec_.usersPerOrganization - 1) {
                pendingTwins_.push_back({id, nextUserId_, 0});
            }
            writeUser(id, k, plan, random, inactive);
        }
        if (plan.inactiveUser && spec_.usersPerOrganization > 0) note(LegacyCase::InactiveUser, id);
        if (plan.caseTwins && spec_.usersPerOrganization > 0) note(LegacyCase::CaseTwinUsers, id);
    }

    void writeConnectivity(std::int64_t orgId, const OrganizationPlan& plan, Random& random) {
        using C = LegacyCase;
        ++manifest_.connectivityRows;
        const bool environment = hasEnvironment(plan.connectivity);
        std::string letter = plan.sandbox ? "S" : "P";
        if (plan.lowerCaseEnvironment) letter = plan.sandbox ? "s" : "p";
        const bool halfFinished = plan.connectivity == C::TokenNull || plan.connectivity == C::TokenEmpty;
        const bool identified = environment && !halfFinished;

        std::optional<std::string> token;
        int status = 1;
        std::optional<std::string> lastError;
        switch (plan.connectivity) {
            case C::Established: token = legacyEncrypt(currentKey_, generator_.refreshTokenOf(orgId), random); break;
            case C::EstablishedUnderOldKey:
                token = legacyEncrypt(oldKey_, generator_.refreshTokenOf(orgId), random);
                break;
            case C::Lost:
                token = legacyEncrypt(currentKey_, generator_.refreshTokenOf(orgId), random);
                status = 2;
                lastError = std::string(kLastErrors[random.below(kLastErrors.size())]);
                lastErrorOfCurrentOrganization_ = lastError;
                break;
            case C::TokenNull: break;
            case C::TokenEmpty: token = ""; break;
            case C::TokenUnderUnknownKey:
                // Variant 1: under the current key after all, but what it holds is not a token (the "garbage"
                // a wrong key rarely yields with valid padding).
                token = plan.variant == 1
                            ? legacyEncrypt(currentKey_, std::string("\x01\x02\xfe\xff binary", 11), random)
                            : legacyEncrypt(unknownKey_, generator_.refreshTokenOf(orgId), random);
                break;
            case C::TokenNotBase64:
                token = std::string(kNotBase64Tokens[static_cast<std::size_t>(plan.variant)]);
                break;
            case C::ToggleOffWithToken:
                token = legacyEncrypt(currentKey_, generator_.refreshTokenOf(orgId), random);
                break;
            case C::NeverConnected:
            case C::ApiOnlyUser: status = 0; break;
            default: throw std::logic_error("LegacyDataGenerator: not a connectivity case");
        }
        const bool toggle = plan.connectivity == C::ToggleOffWithToken ? false
                            : plan.connectivity == C::NeverConnected   ? random.percent(50)
                                                                       : true;
        const std::string authMethod = plan.connectivity == C::ApiOnlyUser ? "api_only_user" : "oauth";
        const auto changedAt = kFirstCreatedAt + kTimeSpread + static_cast<std::int64_t>(random.below(86400 * 365));
        const auto optional = [&](bool present, std::string value) {
            return present ? std::optional<std::string>(std::move(value)) : std::nullopt;
        };
        connectivity_.add(
            "(" + std::to_string(orgId) + "," + (toggle ? "1" : "0") + "," + sqlString(authMethod) + "," +
            sqlNullable(optional(environment, letter)) + "," +
            sqlNullable(optional(identified, salesforceId("005", random, plan.fifteenCharacterIds))) + "," +
            sqlNullable(
                optional(identified, "svc-" + std::to_string(orgId) + "@org" + std::to_string(orgId) + ".example")) +
            "," + sqlNullable(optional(identified, salesforceId("00D", random, plan.fifteenCharacterIds))) + "," +
            sqlNullable(optional(identified, "https://org" + std::to_string(orgId) + ".my.salesforce.com")) + "," +
            sqlNullable(token) + "," + std::to_string(status) + "," +
            (status == 0 ? std::string("NULL") : legacyTime(changedAt)) + "," + sqlNullable(lastError) + "," +
            legacyTime(changedAt + 60) + ")");
    }

    void writeUser(std::int64_t orgId, int k, const OrganizationPlan& plan, Random& random, bool inactive) {
        const std::int64_t userId = nextUserId_++;
        ++manifest_.userRows;
        const bool twinToBe = plan.caseTwins && !plan.orphan() && k == spec_.usersPerOrganization - 1;
        // The older twin keeps capitals; its newer twin, written last, is the same address in lower case.
        const std::string email = (twinToBe ? "User" : "user") + std::to_string(k) + "@" + (twinToBe ? "Org" : "org") +
                                  std::to_string(orgId) + ".example";
        std::optional<std::string> displayName;
        if (k % 7 != 3) {
            displayName = "User " + std::to_string(k);
            if (plan.unusualName) displayName = std::string(kUnusualNames[random.below(kUnusualNames.size())]);
        }
        std::optional<std::string> sfUserId;
        if (random.percent(50)) sfUserId = salesforceId("005", random, plan.fifteenCharacterIds);
        const auto& lostError = lastErrorOfCurrentOrganization_;
        const bool suspended = !inactive && lostError && k % 2 == 0;
        if (suspended) manifest_.suspendedUsers.push_back(userId);
        users_.add("(" + std::to_string(userId) + "," + std::to_string(orgId) + "," + sqlString(email) + "," +
                   sqlNullable(displayName) + "," + sqlNullable(sfUserId) + "," + (inactive ? "0" : "1") + "," +
                   (suspended ? "'suspended'," + sqlString(*lostError) : "'ok',NULL") + ")");
    }

    // Twins are added after every organization, as production's were: the newer row has a far higher id.
    void writeNewerCaseTwins() {
        for (auto twin : pendingTwins_) {
            twin.newerUserId = nextUserId_++;
            ++manifest_.userRows;
            const int k = spec_.usersPerOrganization - 1;
            // Appended piece by piece, not `"user" + std::to_string(k) + ...`: g++ 12 at -O3 inlines
            // operator+(const char*, std::string&&) here and reports a false -Wrestrict (GCC bug 105329).
            std::string email = "user";
            email.append(std::to_string(k)).append("@org").append(std::to_string(twin.orgId)).append(".example");
            std::string row = "(";
            row.append(std::to_string(twin.newerUserId)).append(",").append(std::to_string(twin.orgId)).append(",");
            row.append(sqlString(email)).append(",'Newer twin',NULL,1,'ok',NULL)");
            users_.add(row);
            manifest_.caseTwins.push_back(twin);
        }
    }

    const LegacyDataSpec& spec_;
    const LegacyDataGenerator& generator_;
    BulkInsert organizations_;
    BulkInsert connectivity_;
    BulkInsert users_;
    Key currentKey_;
    Key oldKey_;
    Key unknownKey_;
    LegacyDataManifest manifest_;
    std::int64_t nextUserId_ = 1;
    std::vector<LegacyCaseTwin> pendingTwins_;
    // Its users are written right after its connectivity row; a lost connection suspends half of them.
    std::optional<std::string> lastErrorOfCurrentOrganization_;
};

}  // namespace

LegacyDataGenerator::LegacyDataGenerator(LegacyDataSpec spec) : spec_(spec) {}

std::string LegacyDataGenerator::refreshTokenOf(std::int64_t orgId) const {
    static constexpr std::string_view kTokenAlphabet =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._";
    Random random(mix(spec_.seed, 2, static_cast<std::uint64_t>(orgId)));
    std::string token = "5Aep861";
    for (int i = 0; i < 80; ++i) token += kTokenAlphabet[random.below(kTokenAlphabet.size())];
    return token;
}

std::string legacyTableChecksums(sql::Connection& connection) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    std::unique_ptr<sql::ResultSet> rows(
        statement->executeQuery("CHECKSUM TABLE organizations, org_salesforce_connectivity, org_users EXTENDED"));
    std::string checksums;
    while (rows->next()) {
        // The server names each table with its database; only the table counts, so that databases compare.
        const std::string table(rows->getString(1));
        checksums += table.substr(table.rfind('.') + 1) + "=" + std::string(rows->getString(2)) + ";";
    }
    return checksums;
}

std::vector<std::string> LegacyDataGenerator::legacySchemaStatements() {
    const std::string path = BRIDGE_LEGACY_SCHEMA;
    std::ifstream file(path);
    if (!file) throw std::runtime_error("LegacyDataGenerator: cannot read " + path);
    std::stringstream contents;
    contents << file.rdbuf();
    const std::string text = contents.str();

    std::vector<std::string> statements;
    std::string statement;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (!quoted && c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
            i = text.find('\n', i);
            if (i == std::string::npos) break;
            statement += '\n';
            continue;
        }
        if (c == '\'') quoted = !quoted;
        if (!quoted && c == ';') {
            if (statement.find_first_not_of(" \t\r\n") != std::string::npos) statements.push_back(statement);
            statement.clear();
            continue;
        }
        statement += c;
    }
    if (statements.empty()) throw std::runtime_error("LegacyDataGenerator: no statement in " + path);
    return statements;
}

LegacyDataManifest LegacyDataGenerator::generate(sql::Connection& connection) const {
    for (const auto& statement : legacySchemaStatements()) {
        std::unique_ptr<sql::Statement>(connection.createStatement())->execute(statement);
    }
    return Writer(spec_, *this, connection).write();
}

}  // namespace bridge::testsupport
