// The response bytes, without a socket: status line, framing headers, the header-injection
// guard, Allow's order, the Date format, and the empty lines skipped before a request line.
#include "http/wire_format.hpp"

#include <ctime>
#include <regex>

#include <gtest/gtest.h>

namespace svc::http {
namespace {

// The serialised response with its Date value replaced by "<date>", so it can be compared.
std::string serialized(const response& res, std::string_view request_id, const response_framing& framing) {
    std::string out;
    serialize_response(out, res, request_id, framing);
    return std::regex_replace(out, std::regex("Date: [^\r]*"), "Date: <date>");
}

TEST(wire_format, a_json_answer_with_its_framing_headers) {
    response res{200, "application/json; charset=utf-8", {{"ETag", "\"3\""}}, R"({"ok":true})"};
    EXPECT_EQ(
        serialized(res, "req-1", {.version = 11, .keep_alive = true, .is_head = false}),
        "HTTP/1.1 200 OK\r\nDate: <date>\r\nContent-Type: application/json; charset=utf-8\r\n"
        "ETag: \"3\"\r\nX-Request-ID: req-1\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
    );
}

TEST(wire_format, connection_header_follows_the_version_and_keep_alive) {
    const response res{404, "text/plain", {}, "no"};
    const auto http11_close = serialized(res, "r", {.version = 11, .keep_alive = false, .is_head = false});
    EXPECT_TRUE(http11_close.starts_with("HTTP/1.1 404 Not Found\r\n"));
    EXPECT_NE(http11_close.find("\r\nConnection: close\r\n\r\nno"), std::string::npos);

    // HTTP/1.0 closes by default: keeping the connection must be said.
    const auto http10_keep = serialized(res, "r", {.version = 10, .keep_alive = true, .is_head = false});
    EXPECT_TRUE(http10_keep.starts_with("HTTP/1.0 404 Not Found\r\n"));
    EXPECT_NE(http10_keep.find("\r\nConnection: keep-alive\r\n\r\n"), std::string::npos);

    const auto http11_keep = serialized(res, "r", {.version = 11, .keep_alive = true, .is_head = false});
    EXPECT_EQ(http11_keep.find("Connection:"), std::string::npos);
}

TEST(wire_format, head_gets_the_get_headers_without_the_body) {
    const response res{200, "text/plain", {}, "12345"};
    const auto out = serialized(res, "r", {.version = 11, .keep_alive = true, .is_head = true});
    EXPECT_TRUE(out.ends_with("Content-Length: 5\r\n\r\n")) << out;
}

TEST(wire_format, no_content_length_for_204_304_or_1xx_and_no_content_type_without_a_body) {
    for (const unsigned status : {100U, 204U, 304U}) {
        const auto out = serialized(response{status, "application/json", {}, {}}, "r", {});
        EXPECT_EQ(out.find("Content-Length"), std::string::npos) << status;
        EXPECT_EQ(out.find("Content-Type"), std::string::npos) << status;
    }
    const auto empty_ok = serialized(response{200, "application/json", {}, {}}, "r", {});
    EXPECT_NE(empty_ok.find("\r\nContent-Length: 0\r\n"), std::string::npos);
    EXPECT_EQ(empty_ok.find("Content-Type"), std::string::npos);
}

TEST(wire_format, an_unregistered_status_still_gets_a_one_line_status_line) {
    const auto out = serialized(response{599, "text/plain", {}, "x"}, "r", {});
    ASSERT_TRUE(out.starts_with("HTTP/1.1 599 ")) << out;
    EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
    EXPECT_EQ(out.find_first_of("\r\n"), out.find("\r\nDate: "));
}

TEST(wire_format, a_header_with_cr_lf_or_nul_is_dropped_not_written) {
    using namespace std::string_literals;
    const response res{
        200,
        "text/plain",
        {
            {"X-Split", "a\r\nSet-Cookie: stolen=1"},
            {"X-Bare-LF", "a\nb"},
            {"X-Nul", "a\0b"s},
            {"Bad\rName", "v"},
            {"", "empty name"},
            {"X-Fine", "kept"},
        },
        "b",
    };
    const auto out = serialized(res, "r", {});
    EXPECT_EQ(out.find("Set-Cookie"), std::string::npos);
    EXPECT_EQ(out.find("X-Split"), std::string::npos);
    EXPECT_EQ(out.find("X-Bare-LF"), std::string::npos);
    EXPECT_EQ(out.find("X-Nul"), std::string::npos);
    EXPECT_EQ(out.find("Bad"), std::string::npos);
    EXPECT_EQ(out.find("empty name"), std::string::npos);
    EXPECT_NE(out.find("\r\nX-Fine: kept\r\n"), std::string::npos);
}

TEST(wire_format, is_safe_header_refuses_exactly_cr_lf_nul_and_an_empty_name) {
    using namespace std::string_literals;
    EXPECT_TRUE(is_safe_header({"X-A", "tab\tand unicode \xc3\xa9 are fine"}));
    EXPECT_TRUE(is_safe_header({"X-A", ""}));
    EXPECT_FALSE(is_safe_header({"", "v"}));
    EXPECT_FALSE(is_safe_header({"X-A", "a\rb"}));
    EXPECT_FALSE(is_safe_header({"X-A", "a\nb"}));
    EXPECT_FALSE(is_safe_header({"X-A", "a\0b"s}));
    EXPECT_FALSE(is_safe_header({"X\nA", "v"}));
}

TEST(wire_format, serializing_reuses_the_buffer_and_replaces_its_content) {
    std::string out;
    serialize_response(out, response{200, "text/plain", {}, std::string(1000, 'a')}, "r", {});
    const auto capacity = out.capacity();
    serialize_response(out, response{200, "text/plain", {}, "short"}, "r", {});
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_TRUE(out.ends_with("\r\n\r\nshort"));
    EXPECT_EQ(out.capacity(), capacity);
}

TEST(wire_format, the_head_is_the_response_without_its_body) {
    const response res{201, "application/json", {{"Location", "/orders/1"}}, R"({"id":"1"})"};
    std::string whole;
    std::string head;
    serialize_response(whole, res, "r", {});
    serialize_response_head(head, res, "r", {});
    EXPECT_EQ(head + res.body, whole);
    EXPECT_TRUE(head.ends_with("Content-Length: 10\r\n\r\n")) << head;
}

TEST(wire_format, allow_lists_methods_in_a_fixed_order) {
    EXPECT_EQ(
        allow_header({method::delete_, method::post, method::get, method::head}), "GET, HEAD, POST, DELETE"
    );
    EXPECT_EQ(allow_header({method::options, method::patch, method::put}), "PUT, PATCH, OPTIONS");
    EXPECT_EQ(allow_header({method::get}), "GET");
    EXPECT_EQ(allow_header({}), "");
}

TEST(wire_format, date_is_imf_fixdate_of_now) {
    const std::string date(http_date());
    EXPECT_TRUE(std::regex_match(
        date,
        std::regex(
            R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)"
        )
    )) << date;
    std::tm parsed{};
    ASSERT_NE(::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed), nullptr);
    const auto seconds_off = std::time(nullptr) - ::timegm(&parsed);
    EXPECT_GE(seconds_off, 0);
    EXPECT_LE(seconds_off, 2);
}

TEST(wire_format, leading_empty_line_tells_an_empty_line_from_a_request_line) {
    EXPECT_EQ(leading_empty_line(""), std::nullopt);    // nothing yet
    EXPECT_EQ(leading_empty_line("\r"), std::nullopt);  // CR alone: an empty line or not yet
    EXPECT_EQ(leading_empty_line("\r\n"), 2U);
    EXPECT_EQ(leading_empty_line("\r\nGET / HTTP/1.1\r\n"), 2U);
    EXPECT_EQ(leading_empty_line("\n"), 1U);
    EXPECT_EQ(leading_empty_line("\nGET"), 1U);
    EXPECT_EQ(leading_empty_line("GET / HTTP/1.1\r\n"), 0U);
    EXPECT_EQ(leading_empty_line("G"), 0U);
    EXPECT_EQ(leading_empty_line("\rX"), 0U);  // not an empty line: the parser refuses it
}

}  // namespace
}  // namespace svc::http
