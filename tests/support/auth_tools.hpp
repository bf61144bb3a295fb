#pragma once
// Helpers for the auth tests: a temporary directory, shell commands (openssl, PyJWT), and
// files. Tokens and keys always come from those independent tools, never from our code.

#include <filesystem>
#include <string>

#include <boost/json.hpp>

namespace svc::auth::testing {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class temp_dir {
public:
    temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// Runs `command` through /bin/sh; throws std::runtime_error with the command when it fails.
void run(const std::string& command);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

// Generates a private key with `openssl genpkey` (e.g. "-algorithm RSA -pkeyopt
// rsa_keygen_bits:2048") at `private_pem` and its public key at `public_pem`.
void generate_key_pair(
    const std::string& genpkey_arguments,
    const std::filesystem::path& private_pem,
    const std::filesystem::path& public_pem
);

// Sends `request` to tests/support/mint_tokens.py (Debian's python3 with PyJWT) and returns
// its parsed JSON answer; see that script for the request format.
boost::json::object run_pyjwt(const boost::json::object& request, const std::filesystem::path& work_dir);

}  // namespace svc::auth::testing
