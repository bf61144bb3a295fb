#include "auth/dev_secret.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace svc::auth {

namespace {

constexpr std::size_t k_secret_random_bytes = 32;  // 256 bits
constexpr std::size_t k_min_secret_chars = 32;
constexpr std::size_t k_max_file_bytes = 4096;

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error) {
    throw std::runtime_error(what + " " + path.string() + ": " + std::generic_category().message(error));
}

// Closes a POSIX file descriptor at scope exit.
class file_descriptor {
public:
    explicit file_descriptor(int fd) : fd_(fd) {}
    file_descriptor(const file_descriptor&) = delete;
    file_descriptor& operator=(const file_descriptor&) = delete;
    file_descriptor(file_descriptor&&) = delete;
    file_descriptor& operator=(file_descriptor&&) = delete;
    ~file_descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    // Closes now, reporting the error close() gives (it can reveal a failed write).
    int close_now() {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

std::string random_hex_secret() {
    std::array<unsigned char, k_secret_random_bytes> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("the system random number generator failed to produce a JWT dev secret");
    }
    constexpr std::string_view k_hex = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * bytes.size());
    for (const unsigned char b : bytes) {
        hex.push_back(k_hex[b >> 4U]);
        hex.push_back(k_hex[b & 0x0FU]);
    }
    return hex;
}

// Creates `dir` and its missing parents with mode 0700: the directory holds the secret (and,
// by default, the database), so other local users have no business listing it. An existing
// directory keeps its mode.
void create_private_directories(const std::filesystem::path& dir) {
    std::filesystem::path prefix;
    for (const auto& part : dir) {
        prefix /= part;
        if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
            fail("cannot create the data directory", prefix, errno);
        }
    }
}

// What a non-regular file is, for the refusal.
std::string_view file_kind(mode_t mode) {
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    return "not a regular file";
}

// Reads and validates an existing secret file; nullopt if it does not exist.
std::optional<std::string> read_secret(const std::filesystem::path& path) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (a
    // start that hangs with no log line); for a regular file it changes nothing.
    const file_descriptor fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        fail("cannot open the JWT dev secret", path, errno);
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) fail("cannot inspect the JWT dev secret", path, errno);
    if (!S_ISREG(info.st_mode)) {
        throw std::runtime_error(
            "the JWT dev secret " + path.string() + " is " + std::string(file_kind(info.st_mode)) +
            ", not a regular file; remove it to generate a new secret"
        );
    }
    // Like ssh with its keys: a secret others can read is not a secret any more.
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        throw std::runtime_error(
            "the JWT dev secret " + path.string() + " is accessible by other users; run chmod 600 on it"
        );
    }
    std::string content(k_max_file_bytes, '\0');
    std::size_t length = 0;
    while (length < content.size()) {
        const ssize_t n = ::read(fd.get(), content.data() + length, content.size() - length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot read the JWT dev secret", path, errno);
        if (n == 0) break;
        length += static_cast<std::size_t>(n);
    }
    content.resize(length);
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r' || content.back() == ' ')) {
        content.pop_back();
    }
    const bool printable = std::ranges::all_of(content, [](char c) { return c > ' ' && c < 0x7F; });
    if (content.size() < k_min_secret_chars || !printable) {
        throw std::runtime_error(
            "the JWT dev secret " + path.string() +
            " must hold one line of at least 32 printable characters; delete it to generate a new one"
        );
    }
    return content;
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot write the JWT dev secret", path, errno);
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Publishes a new secret at `path` unless one is there already. Returns false when another
// process won the race (then its secret is the one to read).
bool publish_new_secret(const std::filesystem::path& path, const std::string& secret) {
    std::string temporary = (path.parent_path() / ".jwt-secret.XXXXXX").string();
    // mkstemp creates with O_CREAT | O_EXCL and mode 0600, whatever the umask.
    const int raw_fd = ::mkostemp(temporary.data(), O_CLOEXEC);
    if (raw_fd < 0)
        fail("cannot create a temporary file for the JWT dev secret in", path.parent_path(), errno);
    const std::filesystem::path temporary_path(temporary);
    file_descriptor fd(raw_fd);
    try {
        write_all(fd.get(), secret + "\n", temporary_path);
        if (::fsync(fd.get()) != 0) fail("cannot flush the JWT dev secret", temporary_path, errno);
        if (fd.close_now() != 0) fail("cannot write the JWT dev secret", temporary_path, errno);
        // link() refuses an existing target atomically, so of several racing starts exactly
        // one secret lands, and only complete files are ever visible under the final name.
        if (::link(temporary.c_str(), path.c_str()) != 0) {
            if (errno == EEXIST) {
                ::unlink(temporary.c_str());
                return false;
            }
            fail("cannot create the JWT dev secret", path, errno);
        }
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    ::unlink(temporary.c_str());
    return true;
}

}  // namespace

std::string load_or_create_dev_secret(const std::filesystem::path& data_dir, bool* created) {
    if (created != nullptr) *created = false;
    create_private_directories(data_dir);
    const std::filesystem::path path = data_dir / k_dev_secret_file_name;

    if (auto existing = read_secret(path)) return *existing;
    std::string secret = random_hex_secret();
    if (publish_new_secret(path, secret)) {
        if (created != nullptr) *created = true;
        return secret;
    }
    if (auto winner = read_secret(path)) return *winner;
    throw std::runtime_error("the JWT dev secret " + path.string() + " vanished while it was being created");
}

}  // namespace svc::auth
