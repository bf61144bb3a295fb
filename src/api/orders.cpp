// POST/GET /orders, GET/PATCH /orders/{id}, POST /orders/{id}/{pay,cancel,ship,deliver}.

#include <algorithm>

#include <boost/json/value.hpp>

#include "api/bodies.hpp"
#include "api/handlers.hpp"
#include "api/request.hpp"
#include "json/encode.hpp"
#include "orders/limits.hpp"

namespace svc::api {

namespace {

std::string etag(std::int64_t version) {
    return "\"" + std::to_string(version) + "\"";
}

std::string render_order(const orders::order& o) {
    return json::to_text(to_view(o));
}

http::response order_response(unsigned status, const orders::order& o) {
    auto response = json_response(status, render_order(o));
    response.set_header("ETag", etag(o.version));
    return response;
}

std::vector<orders::item_request> to_items(std::vector<item_body> items) {
    std::vector<orders::item_request> out;
    out.reserve(items.size());
    for (auto& item : items) out.push_back({std::move(item.product_id), item.quantity});
    return out;
}

std::string create_fingerprint(const orders::actor& who, const order_create_body& body) {
    std::vector<std::pair<std::string_view, std::int64_t>> items;
    items.reserve(body.items.size());
    for (const auto& item : body.items) items.emplace_back(item.product_id, item.quantity);
    return order_fingerprint(body.user_id ? *body.user_id : who.subject, std::move(items));
}

std::string render_refusal(const orders::stock_refusal& refusal) {
    return http::make_problem_response(to_problem(orders::business_error(orders::refusal_message(refusal))))
        .body;
}

// The stored answer of an earlier request with the same Idempotency-Key, replayed as it was
// (a 201 also gets its Location and ETag back, read from the stored order).
http::response replay_response(const orders::idempotent_replay& replay) {
    auto response = json_response(replay.status, replay.body);
    response.set_header("Idempotent-Replayed", "true");
    if (replay.status == 201) {
        const auto stored = json::parse(replay.body);
        if (const auto* value = std::get_if<boost::json::value>(&stored);
            value != nullptr && value->is_object()) {
            const auto& object = value->get_object();
            if (const auto* id = object.if_contains("id"); id != nullptr && id->is_string()) {
                response.set_header("Location", "/orders/" + std::string(id->get_string()));
            }
            if (const auto* version = object.if_contains("version");
                version != nullptr && version->is_int64()) {
                response.set_header("ETag", etag(version->get_int64()));
            }
        }
    }
    return response;
}

// The version a change must find: nullopt for no If-Match (or "*"); the tag's version; for a
// list of several tags, the order's current version when it is one of them (412 otherwise).
boost::asio::awaitable<std::optional<std::int64_t>> expected_version(
    orders::service& service, orders::actor who, const http::route_context& ctx, if_match condition
) {
    if (condition.versions.empty()) co_return std::nullopt;
    if (condition.versions.size() == 1) co_return condition.versions.front();
    const auto current = co_await service.get_order(who, ctx.params.at("id"));
    if (std::ranges::find(condition.versions, current.version) == condition.versions.end()) {
        throw orders::precondition_failed("Order is at version " + std::to_string(current.version));
    }
    co_return current.version;
}

}  // namespace

boost::asio::awaitable<http::response> create_order(orders::service& service, http::route_context& ctx) {
    const auto who = actor_of(ctx);
    auto key = read_idempotency_key(ctx.request);
    auto body = read_body<order_create_body>(ctx.request);

    orders::create_order_command command;
    if (key) {
        command.idempotency = orders::idempotency_claim{
            .caller = who.subject,
            .key = std::move(*key),
            .fingerprint = create_fingerprint(who, body),
            .render_created = &render_order,
            .render_refused = &render_refusal,
        };
    }
    if (body.user_id) command.user_id = std::move(body.user_id);
    command.items = to_items(std::move(body.items));

    auto outcome = co_await service.create_order(who, std::move(command));
    if (auto* replay = std::get_if<orders::idempotent_replay>(&outcome)) co_return replay_response(*replay);
    const auto& created = std::get<orders::order>(outcome);
    auto response = order_response(201, created);
    response.set_header("Location", "/orders/" + created.id);
    co_return response;
}

boost::asio::awaitable<http::response> list_orders(orders::service& service, http::route_context& ctx) {
    auto query = read_query<order_list_query>(ctx.request);
    orders::order_query request;
    request.limit = static_cast<std::size_t>(query.limit.value_or(orders::limits::k_default_page_size));
    if (query.cursor) request.before_id = decode_cursor(cursor_kind::order, *query.cursor);
    request.status = query.status;
    request.user_id = std::move(query.user_id);

    const auto page = co_await service.list_orders(actor_of(ctx), std::move(request));
    order_page_view view;
    view.data.reserve(page.data.size());
    for (const auto& o : page.data) view.data.push_back(to_view(o));
    if (page.has_more && !page.data.empty())
        view.next_cursor = encode_cursor(cursor_kind::order, page.data.back().id);
    co_return json_response(200, json::to_text(view));
}

boost::asio::awaitable<http::response> get_order(orders::service& service, http::route_context& ctx) {
    const auto found = co_await service.get_order(actor_of(ctx), ctx.params.at("id"));
    co_return order_response(200, found);
}

boost::asio::awaitable<http::response> replace_order_items(
    orders::service& service, http::route_context& ctx
) {
    const auto who = actor_of(ctx);
    auto condition = read_if_match(ctx.request);
    auto body = read_body<order_items_body>(ctx.request);
    const auto version = co_await expected_version(service, who, ctx, std::move(condition));
    const auto replaced =
        co_await service.replace_items(who, ctx.params.at("id"), to_items(std::move(body.items)), version);
    co_return order_response(200, replaced);
}

template <orders::order_action Action>
boost::asio::awaitable<http::response> apply_order_action(
    orders::service& service, http::route_context& ctx
) {
    const auto who = actor_of(ctx);
    const auto version = co_await expected_version(service, who, ctx, read_if_match(ctx.request));
    const auto changed = co_await service.apply(who, ctx.params.at("id"), Action, version);
    co_return order_response(200, changed);
}

template boost::asio::awaitable<http::response>
apply_order_action<orders::order_action::pay>(orders::service&, http::route_context&);
template boost::asio::awaitable<http::response>
apply_order_action<orders::order_action::cancel>(orders::service&, http::route_context&);
template boost::asio::awaitable<http::response>
apply_order_action<orders::order_action::ship>(orders::service&, http::route_context&);
template boost::asio::awaitable<http::response>
apply_order_action<orders::order_action::deliver>(orders::service&, http::route_context&);

}  // namespace svc::api
