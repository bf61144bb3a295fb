#include "json/query.hpp"

#include <boost/url/parse_query.hpp>

namespace svc::json {

std::optional<std::vector<query_parameter>> split_query(const std::string& raw) {
    std::vector<query_parameter> out;
    if (raw.empty()) return out;
    auto parsed = boost::urls::parse_query(raw);
    if (!parsed) return std::nullopt;
    boost::urls::encoding_opts options;
    options.space_as_plus = true;
    for (const auto& param : *parsed) {
        out.push_back(
            {param.key.decode(options), param.has_value ? param.value.decode(options) : std::string()}
        );
    }
    return out;
}

namespace detail {

parameter_lookup find_parameter(const std::vector<query_parameter>& parameters, std::string_view name) {
    parameter_lookup found;
    for (const auto& parameter : parameters) {
        if (parameter.name != name) continue;
        if (found.first != nullptr) {
            found.repeated = true;
            break;
        }
        found.first = &parameter;
    }
    return found;
}

std::optional<std::string> read_text_parameter(reader& r, const std::string& value, const field_rule* rule) {
    const auto issues_before = r.issue_count();
    check_text(r, value, rule);
    if (r.issue_count() != issues_before) return std::nullopt;
    return value;
}

}  // namespace detail

}  // namespace svc::json
