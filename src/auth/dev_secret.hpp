#pragma once
// The development signing secret of the embedded default: generated on first start, kept
// in the data directory, read back on later starts. The only file I/O of the auth module;
// called once at start-up (and by `orders-service token`), never on an event loop.

#include <filesystem>
#include <string>

namespace svc::auth {

// The name of the secret file inside the data directory.
inline constexpr const char* k_dev_secret_file_name = "jwt-secret";

// Returns the HS256 secret stored in `data_dir`/jwt-secret: 64 lowercase hex characters
// (256 random bits from RAND_bytes), used as the HMAC key exactly as written (so PyJWT or
// any other tool can sign with the file's contents). Creates the directory (mode 0700, and
// its missing parents) and the file (mode 0600) when missing. Safe against concurrent starts: the file is
// written under a temporary name and linked into place, so a reader never sees a partial secret and exactly
// one generated secret wins.
// Throws std::runtime_error with a sentence naming the path when the file cannot be
// created or read, is not a regular file (a FIFO, a directory, a device: refused at once,
// never waited on), holds anything but a secret, or is readable by group or others.
// When `created` is given it is set to whether this call generated the secret (for the
// start-up message).
std::string load_or_create_dev_secret(const std::filesystem::path& data_dir, bool* created = nullptr);

}  // namespace svc::auth
