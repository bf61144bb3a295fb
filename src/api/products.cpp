// GET/POST /products, GET/PATCH /products/{id}.

#include "api/bodies.hpp"
#include "api/handlers.hpp"
#include "api/request.hpp"
#include "json/encode.hpp"
#include "orders/limits.hpp"

namespace svc::api {

orders::actor actor_of(const http::route_context& ctx) {
    if (!ctx.principal) throw std::logic_error("actor_of on a public route");
    return {ctx.principal->subject, ctx.principal->is_admin};
}

http::response json_response(unsigned status, std::string body) {
    http::response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

boost::asio::awaitable<http::response> list_products(orders::service& service, http::route_context& ctx) {
    const auto query = read_query<product_list_query>(ctx.request);
    orders::product_query request;
    request.limit = static_cast<std::size_t>(query.limit.value_or(orders::limits::k_default_page_size));
    if (query.cursor) request.after_id = decode_cursor(cursor_kind::product, *query.cursor);

    const auto page = co_await service.list_products(std::move(request));
    product_page_view view;
    view.data.reserve(page.data.size());
    for (const auto& p : page.data) view.data.push_back(to_view(p));
    if (page.has_more && !page.data.empty()) {
        view.next_cursor = encode_cursor(cursor_kind::product, page.data.back().id);
    }
    co_return json_response(200, json::to_text(view));
}

boost::asio::awaitable<http::response> get_product(orders::service& service, http::route_context& ctx) {
    const auto found = co_await service.get_product(ctx.params.at("id"));
    co_return json_response(200, json::to_text(to_view(found)));
}

boost::asio::awaitable<http::response> create_product(orders::service& service, http::route_context& ctx) {
    auto body = read_body<product_create_body>(ctx.request);
    orders::new_product request{
        .id = std::move(body.id),
        .name = std::move(body.name),
        .price_cents = body.price_cents,
        .stock = body.stock,
    };
    const auto created = co_await service.create_product(actor_of(ctx), std::move(request));
    auto response = json_response(201, json::to_text(to_view(created)));
    response.set_header("Location", "/products/" + created.id);
    co_return response;
}

boost::asio::awaitable<http::response> update_product(orders::service& service, http::route_context& ctx) {
    auto body = read_body<product_patch_body>(ctx.request);
    orders::product_patch patch{
        .name = std::move(body.name),
        .price_cents = body.price_cents,
        .stock = body.stock,
    };
    const auto updated =
        co_await service.update_product(actor_of(ctx), ctx.params.at("id"), std::move(patch));
    co_return json_response(200, json::to_text(to_view(updated)));
}

}  // namespace svc::api
