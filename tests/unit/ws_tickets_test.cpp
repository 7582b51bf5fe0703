// Single-use WebSocket tickets: bound to the principal that asked, valid for the TTL, consumed
// by their first use, only their hash kept.

#include "transport/api/ws_tickets.hpp"

#include "transport/api/auth.hpp"

#include <gtest/gtest.h>

#include <set>

namespace caa::auth {
/// The tests' way to make principals.
struct test_access {
  static http::principal make(std::string tenant) {
    return http::principal{passkey_issuer::issue(), tenant, "t-" + tenant,
                           "key-" + tenant,         true,   false};
  }
};
}  // namespace caa::auth

using namespace caa;
using namespace std::chrono_literals;
using api::ws_ticket_store;

TEST(ws_tickets, a_ticket_works_once_for_its_principal) {
  ws_ticket_store store{30s};
  auto alice = auth::test_access::make("alice");
  auto ticket = store.issue(alice);
  ASSERT_TRUE(ticket);
  EXPECT_GE(ticket->size(), 43u);  // 32 random bytes, base64url
  auto who = store.redeem(*ticket);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->tenant_id(), "alice");
  EXPECT_EQ(who->key_id(), "key-alice");
  EXPECT_FALSE(store.redeem(*ticket)) << "single use";
  EXPECT_FALSE(store.redeem("caa_not_a_ticket"));
  EXPECT_FALSE(store.redeem(""));
}

TEST(ws_tickets, an_expired_ticket_is_refused_and_consumed) {
  ws_ticket_store store{30s};
  auto t0 = ws_ticket_store::clock::now();
  auto ticket = store.issue_at(auth::test_access::make("bob"), t0);
  ASSERT_TRUE(ticket);
  EXPECT_FALSE(store.redeem_at(*ticket, t0 + 30s));
  EXPECT_EQ(store.size(), 0u);
  auto fresh = store.issue_at(auth::test_access::make("bob"), t0);
  EXPECT_TRUE(store.redeem_at(*fresh, t0 + 29s));
}

TEST(ws_tickets, tickets_are_distinct_and_the_store_is_bounded) {
  ws_ticket_store store{30s, 3};
  auto t0 = ws_ticket_store::clock::now();
  auto p = auth::test_access::make("carol");
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    auto t = store.issue_at(p, t0);
    ASSERT_TRUE(t);
    seen.insert(*t);
  }
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_FALSE(store.issue_at(p, t0 + 1s)) << "full of unexpired tickets";
  EXPECT_TRUE(store.issue_at(p, t0 + 31s)) << "expired ones are pruned to make room";
  EXPECT_EQ(store.size(), 1u);
}
