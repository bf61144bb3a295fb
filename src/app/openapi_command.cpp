#include "app/openapi_command.hpp"

#include <utility>

#include "api/routes.hpp"
#include "openapi/docs_routes.hpp"

namespace svc::app {

route_table make_route_table(const service_state& state, std::vector<http::route> api_routes) {
    route_table table{system_routes(state), {}};
    for (auto& r : api_routes) {
        table.routes.push_back(std::move(r));
    }
    table.document = openapi::add_docs_routes(table.routes);  // last: it documents every route above
    return table;
}

int print_openapi(std::ostream& out) {
    const service_state state;
    // The API routes without handlers: the same table, no database needed.
    out << make_route_table(state, api::routes_for_documentation()).document;
    out.flush();
    return out ? 0 : 1;
}

}  // namespace svc::app
