#include "RefreshTokenRecovery.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "bridge/base/Logging.h"

namespace bridge {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

// A file descriptor closed when it goes.
class OpenFile {
public:
    OpenFile(const std::string& path, int flags) : path_(path), fd_(::open(path.c_str(), flags | O_CLOEXEC, 0600)) {
        if (fd_ < 0) fail("cannot open", path);
    }
    ~OpenFile() { ::close(fd_); }
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;

    int fd() const { return fd_; }

    void writeAllAndSync(const std::string& text) {
        for (std::size_t written = 0; written < text.size();) {
            const ssize_t step = ::write(fd_, text.data() + written, text.size() - written);
            if (step < 0 && errno == EINTR) continue;
            if (step < 0) fail("cannot write", path_);
            written += static_cast<std::size_t>(step);
        }
        if (::fsync(fd_) != 0) fail("cannot sync", path_);
    }

private:
    const std::string path_;
    const int fd_;
};

// The processes sharing the file take turns through an exclusive flock on "<file>.lock": the file itself is
// replaced by a rename when entries are removed, so its own inode cannot carry the lock.
class FileTurn {
public:
    explicit FileTurn(const std::string& path) : lock_(path + ".lock", O_RDWR | O_CREAT) {
        if (::flock(lock_.fd(), LOCK_EX) != 0) fail("cannot lock", path + ".lock");
    }

private:
    OpenFile lock_;  // closing it drops the flock
};

std::string line(const RefreshTokenRecovery::Entry& entry) {
    Poco::JSON::Object json;
    json.set("orgId", entry.rotation.orgId);
    json.set("presentedCiphertext", entry.rotation.presentedRefreshCiphertext);
    json.set("rotatedKeyId", entry.rotation.rotated.keyId);
    json.set("rotatedCiphertext", entry.rotation.rotated.ciphertext);
    json.set("keptAt", entry.keptAt);
    std::ostringstream text;
    json.stringify(text);
    return text.str() + "\n";
}

RefreshTokenRecovery::Entry parse(const std::string& text) {
    const auto json = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
    RefreshTokenRecovery::Entry entry;
    entry.rotation.orgId = json->getValue<std::int64_t>("orgId");
    entry.rotation.presentedRefreshCiphertext = json->getValue<std::string>("presentedCiphertext");
    entry.rotation.rotated.keyId = json->getValue<std::string>("rotatedKeyId");
    entry.rotation.rotated.ciphertext = json->getValue<std::string>("rotatedCiphertext");
    entry.keptAt = json->getValue<std::int64_t>("keptAt");
    return entry;
}

}  // namespace

RefreshTokenRecovery::RefreshTokenRecovery(std::string path) : path_(std::move(path)) {}

void RefreshTokenRecovery::keep(const Entry& entry) {
    const std::lock_guard lock(mutex_);
    const FileTurn turn(path_);
    OpenFile file(path_, O_WRONLY | O_APPEND | O_CREAT);
    if (::fchmod(file.fd(), 0600) != 0) fail("cannot restrict", path_);
    file.writeAllAndSync(line(entry));
}

std::vector<RefreshTokenRecovery::Entry> RefreshTokenRecovery::reapply(const std::function<bool(const Entry&)>& apply) {
    const std::lock_guard lock(mutex_);
    std::vector<Entry> keptEntries;
    if (::access(path_.c_str(), F_OK) != 0) return keptEntries;  // nothing was ever kept
    const FileTurn turn(path_);
    std::string content;
    {
        std::ifstream in(path_, std::ios::binary);
        content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::istringstream lines(content);
    std::string kept;
    bool failed = false;
    for (std::string text; std::getline(lines, text);) {
        if (text.empty()) continue;
        Entry entry;
        try {
            entry = parse(text);
        } catch (const Poco::Exception& error) {
            // Never dropped: an operator can still read the organization and the ciphertexts off the line.
            logger("broker")->error("line of {} not understood, kept: {}", path_, error.displayText());
            kept += text + "\n";
            continue;
        }
        bool done = false;
        if (!failed) {
            try {
                done = apply(entry);
            } catch (const std::exception& error) {
                logger("broker")->error("recovered refresh token of organization {} not re-applied, kept: {}",
                                        entry.rotation.orgId, error.what());
                failed = true;
            }
        }
        if (!done) {
            kept += text + "\n";
            keptEntries.push_back(std::move(entry));
        }
    }
    if (kept == content) return keptEntries;
    // Replaced whole, so that a crash leaves the old file or the new one, never half of either.
    const std::string replacement = path_ + ".new";
    {
        OpenFile file(replacement, O_WRONLY | O_CREAT | O_TRUNC);
        file.writeAllAndSync(kept);
    }
    if (::rename(replacement.c_str(), path_.c_str()) != 0) fail("cannot replace", path_);
    return keptEntries;
}

}  // namespace bridge
