#include "db/pg/param.hpp"

#include <cstdio>

namespace svc::db::pg {

param::param(timestamp value) {
    using namespace std::chrono;
    const auto day = floor<days>(value);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> time{value - day};
    // ISO 8601 with an explicit UTC offset: independent of the session's TimeZone/DateStyle.
    char buffer[48];
    const int length = std::snprintf(
        buffer,
        sizeof buffer,
        "%04d-%02u-%02u %02d:%02d:%02d.%06lld+00",
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()),
        static_cast<int>(time.hours().count()),
        static_cast<int>(time.minutes().count()),
        static_cast<int>(time.seconds().count()),
        static_cast<long long>(time.subseconds().count())
    );
    text_.assign(buffer, static_cast<std::size_t>(length));
}

param::param(std::span<const std::string> values) {
    // Array literal with every element quoted, so commas, braces, spaces and the word NULL
    // inside an element stay data.
    text_.push_back('{');
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) text_.push_back(',');
        text_.push_back('"');
        for (const char c : values[i]) {
            if (c == '"' || c == '\\') text_.push_back('\\');
            text_.push_back(c);
        }
        text_.push_back('"');
    }
    text_.push_back('}');
}

param::param(std::span<const std::int64_t> values) {
    text_.push_back('{');
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) text_.push_back(',');
        text_ += std::to_string(values[i]);
    }
    text_.push_back('}');
}

}  // namespace svc::db::pg
