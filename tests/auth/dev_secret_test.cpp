// The dev secret file on a real filesystem: created once with mode 0600 in a 0700 directory,
// read back, refused when others can read it or when it is no regular file, and one winner
// when several starts race.

#include "auth/dev_secret.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/auth_tools.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace svc::auth {
namespace {

bool is_lower_hex(const std::string& s) {
    return std::ranges::all_of(s, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

mode_t permission_bits(const std::filesystem::path& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0);
    return info.st_mode & 0777U;
}

TEST(dev_secret, creates_a_random_256_bit_secret_with_mode_0600) {
    const testing::temp_dir dir;
    const auto data_dir = dir.path() / "data" / "nested";  // created on demand
    const std::string secret = load_or_create_dev_secret(data_dir);
    EXPECT_EQ(secret.size(), 64U);
    EXPECT_TRUE(is_lower_hex(secret)) << secret;

    const auto file = data_dir / "jwt-secret";
    EXPECT_EQ(permission_bits(file), 0600U);
    EXPECT_EQ(permission_bits(data_dir), 0700U);
    EXPECT_EQ(permission_bits(data_dir.parent_path()), 0700U);
    EXPECT_EQ(testing::read_file(file), secret + "\n");
    // No temporary file is left behind.
    EXPECT_EQ(
        std::distance(std::filesystem::directory_iterator(data_dir), std::filesystem::directory_iterator()), 1
    );
}

TEST(dev_secret, is_read_back_on_later_starts_and_differs_between_data_dirs) {
    const testing::temp_dir dir;
    bool created = false;
    const std::string first = load_or_create_dev_secret(dir.path() / "a", &created);
    EXPECT_TRUE(created);
    EXPECT_EQ(load_or_create_dev_secret(dir.path() / "a", &created), first);
    EXPECT_FALSE(created);
    EXPECT_NE(load_or_create_dev_secret(dir.path() / "b"), first);
}

TEST(dev_secret, keeps_an_operator_supplied_secret) {
    const testing::temp_dir dir;
    const auto file = dir.path() / "jwt-secret";
    testing::write_file(file, "my-own-secret-that-is-long-enough-for-hs256\n");
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
    EXPECT_EQ(load_or_create_dev_secret(dir.path()), "my-own-secret-that-is-long-enough-for-hs256");
}

TEST(dev_secret, refuses_a_file_others_can_read) {
    const testing::temp_dir dir;
    load_or_create_dev_secret(dir.path());
    ASSERT_EQ(::chmod((dir.path() / "jwt-secret").c_str(), 0644), 0);
    try {
        load_or_create_dev_secret(dir.path());
        ADD_FAILURE() << "a world-readable secret was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
    }
}

TEST(dev_secret, refuses_short_or_multi_line_content) {
    const testing::temp_dir dir;
    const auto file = dir.path() / "jwt-secret";
    for (const char* content : {"", "short\n", "first-half-of-a-secret\nsecond-half-of-a-secret\n"}) {
        testing::write_file(file, content);
        ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
        EXPECT_THROW(load_or_create_dev_secret(dir.path()), std::runtime_error) << content;
    }
}

TEST(dev_secret, refuses_a_symlink) {
    const testing::temp_dir dir;
    const auto target = dir.path() / "elsewhere";
    testing::write_file(target, std::string(64, 'a'));
    ASSERT_EQ(::chmod(target.c_str(), 0600), 0);
    std::filesystem::create_symlink(target, dir.path() / "jwt-secret");
    EXPECT_THROW(load_or_create_dev_secret(dir.path()), std::runtime_error);
}

TEST(dev_secret, refuses_a_fifo_at_once_instead_of_waiting_for_a_writer) {
    const testing::temp_dir dir;
    const auto fifo = dir.path() / "jwt-secret";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto load = std::async(std::launch::async, [&] { return load_or_create_dev_secret(dir.path()); });
    // A correct answer takes microseconds; the bound only keeps a regression from hanging
    // the suite: the open is then released by a writer, and the test fails.
    if (load.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ADD_FAILURE() << "opening the FIFO waited for a writer";
        const int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        if (writer >= 0) ::close(writer);
    }
    try {
        load.get();
        ADD_FAILURE() << "a FIFO was accepted as the secret";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("is a FIFO, not a regular file"), std::string::npos) << e.what();
    }
}

TEST(dev_secret, refuses_a_directory) {
    const testing::temp_dir dir;
    std::filesystem::create_directory(dir.path() / "jwt-secret");
    try {
        load_or_create_dev_secret(dir.path());
        ADD_FAILURE() << "a directory was accepted as the secret";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
    }
}

TEST(dev_secret, concurrent_first_starts_agree_on_one_secret) {
    const testing::temp_dir dir;
    constexpr int k_threads = 8;
    std::vector<std::string> secrets(k_threads);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&, i] {
            secrets[static_cast<std::size_t>(i)] = load_or_create_dev_secret(dir.path());
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(std::set<std::string>(secrets.begin(), secrets.end()).size(), 1U);
    EXPECT_EQ(testing::read_file(dir.path() / "jwt-secret"), secrets.front() + "\n");
}

}  // namespace
}  // namespace svc::auth
