#include "app/config.hpp"

#include <cstdlib>
#include <sstream>

#include <gtest/gtest.h>

namespace svc::app {
namespace {

struct parsed {
    parse_result result;
    std::string out;
    std::string err;
};

parsed parse(std::vector<std::string> args) {
    args.insert(args.begin(), "orders-service");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream out;
    std::ostringstream err;
    auto result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
    return {std::move(result), out.str(), err.str()};
}

// Sets an environment variable for one test.
struct scoped_env {
    scoped_env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~scoped_env() { ::unsetenv(name_); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    const char* name_;
};

TEST(config, defaults) {
    const auto p = parse({});
    ASSERT_TRUE(p.result.invocation);
    const auto& c = p.result.invocation->config;
    EXPECT_EQ(p.result.invocation->command, command::serve);
    EXPECT_EQ(c.http.host, "127.0.0.1");
    EXPECT_EQ(c.http.port, 8000);
    EXPECT_EQ(c.http.max_header_bytes, 16U * 1024);
    EXPECT_EQ(c.http.max_body_bytes, 1024U * 1024);
    EXPECT_EQ(c.http.shutdown_grace, std::chrono::seconds(10));
    EXPECT_EQ(c.data_dir, ".");
    EXPECT_EQ(c.threads, default_thread_count());
    EXPECT_EQ(c.logging.format, obs::log_format::json);
}

TEST(config, environment_then_flag_wins) {
    const scoped_env port("PORT", "9001");
    const scoped_env grace("SHUTDOWN_GRACE_SECONDS", "0.25");
    const scoped_env format("LOG_FORMAT", "text");
    auto p = parse({});
    ASSERT_TRUE(p.result.invocation);
    EXPECT_EQ(p.result.invocation->config.http.port, 9001);
    EXPECT_EQ(p.result.invocation->config.http.shutdown_grace, std::chrono::milliseconds(250));
    EXPECT_EQ(p.result.invocation->config.logging.format, obs::log_format::text);
    p = parse({"serve", "--port", "9002"});
    ASSERT_TRUE(p.result.invocation);
    EXPECT_EQ(p.result.invocation->config.http.port, 9002);
}

TEST(config, pool_plan_writer_and_purge_settings) {
    auto p = parse({});
    ASSERT_TRUE(p.result.invocation);
    EXPECT_EQ(p.result.invocation->config.db.overflow_idle_timeout, std::chrono::seconds(30));
    EXPECT_TRUE(p.result.invocation->config.db.generic_plans);
    EXPECT_EQ(p.result.invocation->config.db.write_concurrency, 8U);
    EXPECT_EQ(p.result.invocation->config.idempotency_purge_interval, std::chrono::seconds(300));
    const scoped_env idle("DB_OVERFLOW_IDLE_TIMEOUT", "0.5");
    const scoped_env plans("DB_GENERIC_PLANS", "false");
    const scoped_env purge("IDEMPOTENCY_PURGE_INTERVAL_SECONDS", "0");
    const scoped_env writers("DB_WRITE_CONCURRENCY", "0");
    p = parse({});
    ASSERT_TRUE(p.result.invocation);
    EXPECT_EQ(p.result.invocation->config.db.overflow_idle_timeout, std::chrono::milliseconds(500));
    EXPECT_FALSE(p.result.invocation->config.db.generic_plans);
    EXPECT_EQ(p.result.invocation->config.db.write_concurrency, 0U);
    EXPECT_EQ(p.result.invocation->config.idempotency_purge_interval, std::chrono::seconds(0));
    for (const auto& bad :
         {std::vector<std::string>{"--db-overflow-idle-timeout", "0"},
          std::vector<std::string>{"--idempotency-purge-interval-seconds", "-1"},
          std::vector<std::string>{"--db-generic-plans", "maybe"},
          std::vector<std::string>{"--db-write-concurrency", "-1"}}) {
        const auto refused = parse(bad);
        EXPECT_FALSE(refused.result.invocation) << bad[0];
        EXPECT_EQ(refused.result.exit_code, 2) << bad[0];
    }
}

TEST(config, subcommands) {
    EXPECT_EQ(parse({"version"}).result.invocation->command, command::version);
    const auto p = parse({"healthcheck", "--port", "1234"});
    EXPECT_EQ(p.result.invocation->command, command::healthcheck);
    EXPECT_EQ(p.result.invocation->config.http.port, 1234);
}

TEST(config, bad_values_give_one_line_and_exit_code_2) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--port", "70000"},
             {"--threads", "0"},
             {"--host", "localhost:80"},
             {"--log-level", "chatty"},
             {"--idle-timeout-seconds", "0"},
             {"--max-body-bytes", "-5"},
             {"frobnicate"},
         }) {
        const auto p = parse(args);
        EXPECT_FALSE(p.result.invocation) << args[0];
        EXPECT_EQ(p.result.exit_code, 2) << args[0];
        EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
        EXPECT_EQ(p.err.rfind("orders-service: ", 0), 0U) << p.err;
    }
}

TEST(config, help_exits_0_and_shows_env_names_and_defaults) {
    const auto p = parse({"--help"});
    EXPECT_FALSE(p.result.invocation);
    EXPECT_EQ(p.result.exit_code, 0);
    EXPECT_NE(p.out.find("(Env:PORT)"), std::string::npos);
    EXPECT_NE(p.out.find("=8000"), std::string::npos);
    EXPECT_NE(p.out.find("(Env:SHUTDOWN_GRACE_SECONDS)"), std::string::npos);
}

}  // namespace
}  // namespace svc::app
