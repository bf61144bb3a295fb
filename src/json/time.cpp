#include <chrono>

#include "json/decode.hpp"
#include "json/encode.hpp"

namespace svc::json {

namespace {

constexpr std::int64_t k_micros_per_second = 1'000'000;

}  // namespace

std::string format_utc_micros(std::int64_t micros_since_epoch) {
    using namespace std::chrono;
    // Floor division so instants before 1970 still get a non-negative fraction.
    std::int64_t seconds = micros_since_epoch / k_micros_per_second;
    std::int64_t fraction = micros_since_epoch % k_micros_per_second;
    if (fraction < 0) {
        fraction += k_micros_per_second;
        --seconds;
    }
    const sys_seconds instant{std::chrono::seconds(seconds)};
    const auto day = floor<days>(instant);
    const year_month_day date{day};
    const hh_mm_ss time{instant - day};
    // Digits written by hand: snprintf was the largest single cost of rendering a page of orders.
    std::string out(27, '0');
    const auto put = [&out](std::size_t at, std::size_t width, std::int64_t value) {
        for (std::size_t i = at + width; i > at; --i) {
            out[i - 1] = static_cast<char>('0' + value % 10);
            value /= 10;
        }
    };
    put(0, 4, static_cast<int>(date.year()));
    out[4] = '-';
    put(5, 2, static_cast<unsigned>(date.month()));
    out[7] = '-';
    put(8, 2, static_cast<unsigned>(date.day()));
    out[10] = 'T';
    put(11, 2, time.hours().count());
    out[13] = ':';
    put(14, 2, time.minutes().count());
    out[16] = ':';
    put(17, 2, time.seconds().count());
    out[19] = '.';
    put(20, 6, fraction);
    out[26] = 'Z';
    return out;
}

std::optional<std::int64_t> parse_utc_micros(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS.ffffffZ
    if (text.size() != 27 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || text[19] != '.' || text[26] != 'Z') {
        return std::nullopt;
    }
    const auto number = [&](std::size_t at, std::size_t length) -> std::optional<std::int64_t> {
        for (std::size_t i = at; i < at + length; ++i) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;
        }
        return parse_decimal(text.substr(at, length));
    };
    const auto y = number(0, 4), mo = number(5, 2), d = number(8, 2);
    const auto h = number(11, 2), mi = number(14, 2), s = number(17, 2), f = number(20, 6);
    if (!y || !mo || !d || !h || !mi || !s || !f) return std::nullopt;
    using namespace std::chrono;
    const year_month_day date{
        year{static_cast<int>(*y)}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
    if (!date.ok() || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
    const auto since_epoch = sys_days{date}.time_since_epoch() + hours{*h} + minutes{*mi} + seconds{*s};
    return duration_cast<microseconds>(since_epoch).count() + *f;
}

}  // namespace svc::json
