#include "bridge/services/StoreRekey.h"

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "BrokerRules.h"
#include "bridge/base/Error.h"
#include "bridge/services/Connectivity.h"

namespace bridge {

namespace {

constexpr SealedColumn kColumns[] = {SealedColumn::RefreshToken, SealedColumn::AccessToken, SealedColumn::CodeVerifier};

// What a row's value may be sealed for, in the order to try: an access token sealed by an earlier version is
// bound to its organization only, and is re-sealed for just that (the broker refreshes it without alarm).
std::vector<std::string> associatedDataOf(SealedColumn column, const SealedRow& row) {
    switch (column) {
        case SealedColumn::RefreshToken: return {Connectivity::refreshTokenAssociatedData(row.id.orgId)};
        case SealedColumn::AccessToken:
            return {accessTokenAssociatedData(row.id.orgId, row.instanceUrl, row.expiresAt),
                    unboundAccessTokenAssociatedData(row.id.orgId)};
        case SealedColumn::CodeVerifier: return {Connectivity::codeVerifierAssociatedData(row.id.stateHash)};
    }
    throw std::logic_error("unknown sealed column");
}

// The value re-sealed under the active key for what it was sealed for, or TokenCipherError (the first
// candidate's) when no configured key opens it.
SealedToken resealed(const TokenCipher& cipher, SealedColumn column, const SealedRow& row) {
    const std::vector<std::string> candidates = associatedDataOf(column, row);
    std::optional<TokenCipherError> first;
    for (const std::string& associatedData : candidates) {
        try {
            return cipher.seal(cipher.open(row.token, associatedData), associatedData);
        } catch (const TokenCipherError& error) {
            if (!first) first = error;
        }
    }
    throw *first;
}

// "refresh token of organization 1042", "code verifier of login attempt 3f2a9c01" (the first characters of the
// state's hash: enough to find the row, and a hash is no secret).
std::string describe(SealedColumn column, const SealedRowId& id) {
    switch (column) {
        case SealedColumn::RefreshToken: return "refresh token of organization " + std::to_string(id.orgId);
        case SealedColumn::AccessToken: return "access token of organization " + std::to_string(id.orgId);
        case SealedColumn::CodeVerifier: return "code verifier of login attempt " + id.stateHash.substr(0, 12);
    }
    throw std::logic_error("unknown sealed column");
}

std::string keyOf(const SealedRowId& id) { return std::to_string(id.orgId) + "/" + id.stateHash; }

}  // namespace

int StoreRekey::Summary::exitCode() const {
    if (failed > 0 || !failure.empty()) return 1;
    return skipped > 0 || busy > 0 ? 3 : 0;
}

std::string StoreRekey::Summary::line() const {
    return "rewritten " + std::to_string(rewritten) + ", already current " + std::to_string(alreadyCurrent) +
           ", skipped " + std::to_string(skipped) + ", busy " + std::to_string(busy) + ", failed " +
           std::to_string(failed);
}

StoreRekey::StoreRekey(Store& store, const TokenCipher& cipher, Settings settings, std::ostream& report)
    : store_(store), cipher_(cipher), settings_(settings), report_(report) {}

std::int64_t StoreRekey::countToRewrite() {
    std::int64_t total = 0;
    for (SealedColumn column : kColumns) total += store_.countSealedNotUnder(column, cipher_.activeKeyId());
    return total;
}

StoreRekey::Summary StoreRekey::run(const Progress& progress) {
    Summary summary;
    std::int64_t handled = 0;
    try {
        for (SealedColumn column : kColumns) {
            // Key ids are never empty, so "not under the empty id" counts every sealed value.
            summary.alreadyCurrent +=
                store_.countSealedNotUnder(column, "") - store_.countSealedNotUnder(column, cipher_.activeKeyId());
        }
        for (SealedColumn column : kColumns) rekeyColumn(column, summary, handled, progress);
    } catch (const Error& error) {
        if (error.code() != ErrorCode::StoreUnavailable) throw;
        summary.failure = error.what();
    }
    return summary;
}

void StoreRekey::rekeyColumn(SealedColumn column, Summary& summary, std::int64_t& handled, const Progress& progress) {
    std::set<std::string> unopenable;  // reported once, then passed over
    std::int64_t left = 0;
    for (int pass = 1; pass <= settings_.passes; ++pass) {
        if (pass > 1) std::this_thread::sleep_for(settings_.pauseBetweenPasses);
        left = 0;
        SealedRowId after;
        for (;;) {
            const std::vector<SealedRow> rows =
                store_.listSealedNotUnder(column, cipher_.activeKeyId(), after, settings_.batchSize);
            if (rows.empty()) break;
            after = rows.back().id;
            std::vector<Reseal> batch;
            std::int64_t newlyUnopenable = 0;
            for (const SealedRow& row : rows) {
                if (unopenable.count(keyOf(row.id)) > 0) continue;
                try {
                    batch.push_back(Reseal{row.id, row.token.ciphertext, resealed(cipher_, column, row)});
                } catch (const TokenCipherError& error) {
                    unopenable.insert(keyOf(row.id));
                    ++newlyUnopenable;
                    report_ << "skipped " << describe(column, row.id) << ": " << error.what() << "\n";
                }
            }
            int rewritten = 0;
            try {
                rewritten = store_.resealIfUnchanged(column, batch);
            } catch (const Error&) {
                summary.failed += static_cast<std::int64_t>(batch.size());
                throw;
            }
            summary.rewritten += rewritten;
            left += static_cast<std::int64_t>(batch.size()) - rewritten;
            handled += rewritten + newlyUnopenable;
            if (progress) progress(handled);
        }
        if (left == 0) break;
    }
    summary.skipped += static_cast<std::int64_t>(unopenable.size());
    if (left > 0) {
        // What the last pass could not rewrite may since have been re-sealed by a refresh: count what remains.
        const std::int64_t remaining = store_.countSealedNotUnder(column, cipher_.activeKeyId());
        summary.busy += std::max<std::int64_t>(0, remaining - static_cast<std::int64_t>(unopenable.size()));
    }
}

}  // namespace bridge
