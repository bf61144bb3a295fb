#include "api/request.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <openssl/evp.h>

#include "orders/ids.hpp"
#include "orders/limits.hpp"

namespace svc::api {

namespace {

constexpr std::string_view k_base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

int base64url_value(char c) {
    const auto at = k_base64url_alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

bool is_json_media_type(std::string_view content_type) {
    const auto media = trim(content_type.substr(0, content_type.find(';')));
    if (iequals(media, "application/json")) return true;
    const auto slash = media.find('/');
    if (slash == std::string_view::npos || !iequals(media.substr(0, slash), "application")) return false;
    return media.size() > 5 && iequals(media.substr(media.size() - 5), "+json");
}

void require_json_content(const http::request& request) {
    const auto content_type = request.header_value("Content-Type");
    if (!content_type || !is_json_media_type(*content_type)) {
        throw http::problem_error(415, "Request body must be JSON (Content-Type: application/json)");
    }
}

if_match read_if_match(const http::request& request) {
    const auto header = request.header_value("If-Match");
    if (!header || trim(*header) == "*") return {};
    if_match out;
    std::string_view rest = *header;
    while (true) {
        const auto comma = rest.find(',');
        std::string_view tag = trim(rest.substr(0, comma));
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        const bool quoted = tag.size() >= 3 && tag.front() == '"' && tag.back() == '"';
        const auto digits = quoted ? tag.substr(1, tag.size() - 2) : std::string_view();
        const bool all_digits = !digits.empty() && digits.size() <= 18 &&
                                std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; });
        if (!all_digits) throw http::problem_error(bad_request("Malformed If-Match header"));
        out.versions.push_back(*json::parse_decimal(digits));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<std::string> read_idempotency_key(const http::request& request) {
    const auto key = request.header_value("Idempotency-Key");
    if (!key) return std::nullopt;
    const bool visible_ascii = std::ranges::all_of(*key, [](char c) { return c >= 0x21 && c <= 0x7E; });
    if (key->empty() || key->size() > orders::limits::k_idempotency_key_max_length || !visible_ascii) {
        throw http::problem_error(bad_request("Idempotency-Key must be 1-255 visible ASCII characters"));
    }
    return std::string(*key);
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : bytes) {
        buffer = (buffer << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(k_base64url_alphabet[(buffer >> bits) & 0x3F]);
        }
    }
    if (bits > 0) out.push_back(k_base64url_alphabet[(buffer << (6 - bits)) & 0x3F]);
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to this length
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : text) {
        const int value = base64url_value(c);
        if (value < 0) return std::nullopt;
        buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    if ((buffer & ((1U << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
    return out;
}

std::string encode_cursor(cursor_kind kind, std::string_view key) {
    std::string payload;
    payload.reserve(key.size() + 2);
    payload.push_back(static_cast<char>(kind));
    payload.push_back(':');
    payload.append(key);
    return base64url_encode(payload);
}

std::string decode_cursor(cursor_kind kind, std::string_view cursor) {
    auto payload = base64url_decode(cursor);
    const bool tagged =
        payload && payload->size() > 2 && (*payload)[0] == static_cast<char>(kind) && (*payload)[1] == ':';
    if (tagged) {
        std::string key = payload->substr(2);
        if (kind == cursor_kind::product && orders::limits::is_product_id(key)) return key;
        if (kind == cursor_kind::order) {
            if (auto id = orders::canonical_uuid(key)) return *id;
        }
    }
    throw http::problem_error(bad_request("Malformed cursor"));
}

std::string sha256_hex(std::string_view bytes) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    static constexpr std::string_view k_hex = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{length} * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(k_hex[digest[i] >> 4]);
        out.push_back(k_hex[digest[i] & 0xF]);
    }
    return out;
}

std::string order_fingerprint(
    std::string_view owner, std::vector<std::pair<std::string_view, std::int64_t>> items
) {
    std::ranges::sort(items);
    std::string canonical;
    const auto append_field = [&canonical](std::string_view field) {
        canonical.append(std::to_string(field.size())).append(":").append(field);
    };
    append_field(owner);
    for (const auto& [product_id, quantity] : items) {
        append_field(product_id);
        append_field(std::to_string(quantity));
    }
    return sha256_hex(canonical);
}

}  // namespace svc::api
