#include "support/auth_tools.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace svc::auth::testing {

temp_dir::temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "auth-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

void run(const std::string& command) {
    // NOLINTNEXTLINE(cert-env33-c,concurrency-mt-unsafe): test helper running fixed tools
    if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void generate_key_pair(
    const std::string& genpkey_arguments,
    const std::filesystem::path& private_pem,
    const std::filesystem::path& public_pem
) {
    run("openssl genpkey " + genpkey_arguments + " -out '" + private_pem.string() + "' 2>/dev/null");
    run("openssl pkey -in '" + private_pem.string() + "' -pubout -out '" + public_pem.string() + "'");
}

boost::json::object run_pyjwt(const boost::json::object& request, const std::filesystem::path& work_dir) {
    const auto request_file = work_dir / "pyjwt-request.json";
    const auto answer_file = work_dir / "pyjwt-answer.json";
    write_file(request_file, boost::json::serialize(request));
    run(std::string(ORDERS_PYTHON3) + " '" + ORDERS_TEST_SUPPORT_DIR + "/mint_tokens.py' < '" +
        request_file.string() + "' > '" + answer_file.string() + "'");
    return boost::json::parse(read_file(answer_file)).as_object();
}

}  // namespace svc::auth::testing
