// The pure domain: the status state machine table, UUIDv7 order ids, product id syntax.

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "orders/ids.hpp"
#include "orders/limits.hpp"
#include "orders/model.hpp"
#include "orders/state_machine.hpp"

namespace svc::orders {
namespace {

using s = order_status;

// The contract, written out independently of k_actions: pending → paid → shipped →
// delivered; pending|paid → cancelled. "No other transition exists."
const std::set<std::pair<order_status, order_status>> k_contract_transitions = {
    {s::pending, s::paid},
    {s::paid, s::shipped},
    {s::shipped, s::delivered},
    {s::pending, s::cancelled},
    {s::paid, s::cancelled},
};

TEST(StateMachine, EveryFromToPairIsAllowedExactlyWhenTheContractSaysSo) {
    int allowed = 0;
    for (const auto from : k_all_order_statuses) {
        for (const auto to : k_all_order_statuses) {
            const bool expected = k_contract_transitions.contains({from, to});
            EXPECT_EQ(is_allowed_transition(from, to), expected)
                << to_string(from) << " -> " << to_string(to);
            allowed += expected ? 1 : 0;
        }
    }
    EXPECT_EQ(allowed, 5);
}

TEST(StateMachine, EachActionHasOneRowWithItsSourcesTargetAccessAndRestock) {
    struct expected_row {
        order_action action;
        std::string_view name;
        std::set<order_status> from;
        order_status to;
        action_access access;
        bool restock;
    };
    const expected_row rows[] = {
        {order_action::pay, "pay", {s::pending}, s::paid, action_access::owner_or_admin, false},
        {order_action::cancel,
         "cancel",
         {s::pending, s::paid},
         s::cancelled,
         action_access::owner_or_admin,
         true},
        {order_action::ship, "ship", {s::paid}, s::shipped, action_access::admin, false},
        {order_action::deliver, "deliver", {s::shipped}, s::delivered, action_access::admin, false},
    };
    ASSERT_EQ(std::size(k_actions), std::size(rows));
    for (const auto& row : rows) {
        const auto& rule = rule_for(row.action);
        EXPECT_EQ(rule.action, row.action);
        EXPECT_EQ(rule.name, row.name);
        EXPECT_EQ(rule.to, row.to);
        EXPECT_EQ(rule.access, row.access) << row.name;
        EXPECT_EQ(rule.restock, row.restock) << row.name;
        for (const auto status : k_all_order_statuses) {
            EXPECT_EQ(rule.from.contains(status), row.from.contains(status))
                << row.name << " from " << to_string(status);
        }
        const auto listed = rule.from.to_vector();
        EXPECT_EQ(std::set<order_status>(listed.begin(), listed.end()), row.from);
        EXPECT_EQ(parse_order_action(row.name), row.action);
    }
    EXPECT_FALSE(parse_order_action("refund"));
    EXPECT_FALSE(parse_order_action("Pay"));
}

TEST(StateMachine, OnlyPendingOrdersHaveModifiableItems) {
    for (const auto status : k_all_order_statuses) {
        EXPECT_EQ(items_modifiable(status), status == s::pending) << to_string(status);
    }
}

TEST(OrderStatus, NamesRoundTripAndUnknownNamesAreRejected) {
    for (const auto status : k_all_order_statuses) EXPECT_EQ(parse_order_status(to_string(status)), status);
    EXPECT_EQ(to_string(s::cancelled), "cancelled");
    EXPECT_FALSE(parse_order_status("PENDING"));
    EXPECT_FALSE(parse_order_status("refunded"));
    EXPECT_FALSE(parse_order_status(""));
}

TEST(OrderIds, UuidV7LayoutCarriesTheMillisecondsVersionAndVariant) {
    const timestamp now = 1'764'547'200'123'456;  // 2025-12-01T00:00:00.123456Z
    const auto id = make_uuid_v7(now, 0xFFFF'FFFF'FFFF'FFFFULL);
    ASSERT_EQ(id.size(), 36U);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '7');                                                    // version nibble
    EXPECT_TRUE(std::string("89ab").find(id[19]) != std::string::npos) << id;  // variant 0b10
    EXPECT_EQ(uuid_v7_millis(id), now / 1000);
    EXPECT_EQ(canonical_uuid(id), id);
    // The 12 bits after the version are the sub-millisecond fraction: 456 µs → 0x74b.
    EXPECT_EQ(id.substr(15, 3), "74b");
}

TEST(OrderIds, LaterInstantsGiveGreaterIdsAsText) {
    std::string previous;
    for (timestamp t = 1'764'547'200'000'000; t < 1'764'547'200'010'000; t += 7) {
        const auto id = make_uuid_v7(t, 0);
        EXPECT_LT(previous, id);
        previous = id;
    }
}

TEST(OrderIds, FreshIdsAreDistinctAndValid) {
    std::set<std::string> seen;
    for (int i = 0; i < 10'000; ++i) {
        const auto id = new_order_id(1'764'547'200'000'000);
        EXPECT_TRUE(seen.insert(id).second) << id;
    }
}

TEST(OrderIds, CanonicalUuidLowercasesAndRejectsOtherShapes) {
    EXPECT_EQ(canonical_uuid("01936F0E-7A4C-7C1E-9B2A-3F9D2C1E8A10"), "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10");
    EXPECT_FALSE(canonical_uuid("01936f0e7a4c7c1e9b2a3f9d2c1e8a10"));
    EXPECT_FALSE(canonical_uuid("01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a1"));
    EXPECT_FALSE(canonical_uuid("01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a1g"));
    EXPECT_FALSE(canonical_uuid("{1936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10"));
    EXPECT_FALSE(canonical_uuid(""));
}

TEST(ProductIds, OneTo64CharsOfTheContractAlphabet) {
    EXPECT_TRUE(limits::is_product_id("p1"));
    EXPECT_TRUE(limits::is_product_id("A.b_c-9"));
    EXPECT_TRUE(limits::is_product_id(std::string(64, 'x')));
    EXPECT_FALSE(limits::is_product_id(std::string(65, 'x')));
    EXPECT_FALSE(limits::is_product_id(""));
    EXPECT_FALSE(limits::is_product_id("p 1"));
    EXPECT_FALSE(limits::is_product_id("p/1"));
    EXPECT_FALSE(limits::is_product_id("caf\xc3\xa9"));
}

}  // namespace
}  // namespace svc::orders
