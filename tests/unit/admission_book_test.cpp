// The process budget's bookkeeping (actors/admission_book.hpp) under random sequences of
// acquire / ready / idle / busy / release / warm events / adoptions / timeouts / session exits,
// with a simulated clock. After every step the invariants of the budget must hold:
//   * never more slots in use than the budget, never more starts than the start cap;
//   * a grant never takes a tenant beyond its share;
//   * every waiter is granted exactly once or refused exactly once, within ADMISSION_WAIT;
//   * while a waiter is kept only by the budget and some slot could be given up (an idle
//     session, a ready warm process), asks to give slots up are on their way: at least as many
//     as such waiters, up to the number of such slots (no wedge).

#include "actors/admission_book.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace caa::admission_logic;
using namespace std::chrono_literals;

namespace {

constexpr auto wait_limit = 10s;

/// Drives one book and checks it after every step.
class simulation {
 public:
  simulation(book_config cfg, uint64_t seed) : book_(cfg), cfg_(cfg), rng_(seed) {}

  void run(int steps) {
    for (int i = 0; i < steps && !::testing::Test::HasFailure(); ++i) step(i);
  }

 private:
  struct claimant {
    std::string tenant;
    bool probe = false;
    std::optional<uint64_t> ticket;  // waiting
  };

  int pick(int n) { return std::uniform_int_distribution<int>{0, n - 1}(rng_); }
  bool chance(double p) { return std::bernoulli_distribution{p}(rng_); }

  claimant_id random_claimant() {
    if (next_adopter_ > 100 && chance(0.2))
      return static_cast<claimant_id>(100 + pick(static_cast<int>(next_adopter_ - 100)));
    auto id = static_cast<claimant_id>(pick(14) + 1);
    if (!people_.count(id)) people_[id] = {"tenant-" + std::to_string(pick(3)), id > 12, {}};
    return id;
  }

  void step(int i) {
    effects fx;
    std::ostringstream what;
    auto before = held_by_tenant();
    bool checked = true;
    switch (pick(12)) {
      case 0:
      case 1: {  // acquire
        auto id = random_claimant();
        auto& c = people_[id];
        if (c.ticket) break;
        uint64_t ticket = 0;
        bool had = book_.holds(id);
        what << "acquire " << id << " of " << c.tenant;
        if (book_.acquire(id, c.tenant, !c.probe, now_, ticket, fx)) {
          if (!had) expect_grant_allowed(c.tenant, before, what.str());
        } else {
          c.ticket = ticket;
          deadline_[ticket] = now_ + wait_limit;
          owner_[ticket] = id;
        }
        break;
      }
      case 2: {
        auto id = random_claimant();
        what << "ready " << id;
        book_.ready(id, now_, fx);
        break;
      }
      case 3: {
        auto id = random_claimant();
        if (people_[id].probe) break;
        what << "idle " << id;
        book_.idle(id, now_, fx);
        break;
      }
      case 4: {
        auto id = random_claimant();
        what << "busy " << id;
        book_.busy(id, now_, fx);
        break;
      }
      case 5: {  // a session or probe ends (its waiter goes with it)
        auto id = random_claimant();
        what << "release " << id;
        drop_ticket(id);
        book_.release(id, now_, fx);
        break;
      }
      case 6:
        what << "acquire warm";
        checked = false;
        if (book_.acquire_warm()) ++warm_granted_;
        break;
      case 7:
        what << "warm ready";
        book_.warm_ready(now_, fx);
        break;
      case 8:
        what << "release warm";
        book_.release_warm(now_, fx);
        break;
      case 9: {  // a new session adopts a warm process of a tenant below its share
        if (book_.warm() == 0) break;
        auto tenant = "tenant-" + std::to_string(pick(3));
        if (book_.held_by(tenant) >= cfg_.tenant_share) break;
        auto id = next_adopter_++;
        people_[id] = {tenant, false, {}};
        what << "adopt warm " << id << " of " << tenant;
        book_.adopt_warm(id, tenant, now_, fx);
        break;
      }
      default:  // time passes: timers fire, asked sessions that are still idle hibernate
        advance(std::chrono::milliseconds{pick(4000)});
        checked = false;
        what << "time";
        break;
    }
    apply(fx, before, what.str());
    // Only after a call of the book: every call re-evaluates its asks at `now`.
    if (checked && !what.str().empty()) check(i, what.str());
  }

  /// Carries out effects like the actor and the sessions would.
  void apply(const effects& fx, const std::map<std::string, std::size_t>& before,
             const std::string& what) {
    for (auto t : fx.granted) {
      ASSERT_TRUE(owner_.count(t)) << "a grant of an unknown ticket " << t << " after " << what;
      ASSERT_FALSE(granted_.count(t)) << "ticket " << t << " granted twice";
      ASSERT_FALSE(refused_.count(t)) << "ticket " << t << " granted after its refusal";
      ASSERT_LE(now_, deadline_[t]) << "ticket " << t << " granted after ADMISSION_WAIT";
      granted_.insert(t);
      auto id = owner_[t];
      people_[id].ticket.reset();
      expect_grant_allowed(people_[id].tenant, before, what);
    }
    for (auto id : fx.hibernate)
      if (chance(0.8)) hibernating_[id] = now_ + std::chrono::milliseconds{pick(3000)};
    if (fx.recheck && !recheck_at_) recheck_at_ = now_ + book_.config().patience;
  }

  void expect_grant_allowed(const std::string& tenant,
                            const std::map<std::string, std::size_t>& before,
                            const std::string& what) {
    (void)before;
    EXPECT_LE(book_.held_by(tenant), cfg_.tenant_share)
        << tenant << " was granted beyond its share after " << what;
  }

  std::map<std::string, std::size_t> held_by_tenant() const {
    std::map<std::string, std::size_t> out;
    for (auto& [id, c] : people_)
      if (book_.holds(id)) ++out[c.tenant];
    return out;
  }

  void drop_ticket(claimant_id id) {
    auto& c = people_[id];
    if (c.ticket) {
      gone_.insert(*c.ticket);
      c.ticket.reset();
    }
  }

  void advance(std::chrono::milliseconds d) {
    auto until = now_ + d;
    for (;;) {
      // The next thing due: a waiter's deadline, the recheck, a hibernation finishing.
      time_point next = until;
      for (auto& [t, at] : deadline_)
        if (!granted_.count(t) && !refused_.count(t) && !gone_.count(t)) next = std::min(next, at);
      if (recheck_at_) next = std::min(next, *recheck_at_);
      for (auto& [id, at] : hibernating_) next = std::min(next, at);
      now_ = next;
      bool any = false;
      auto before = held_by_tenant();
      for (auto& [t, at] : deadline_) {
        if (at > now_ || granted_.count(t) || refused_.count(t) || gone_.count(t)) continue;
        effects fx;
        auto why = book_.expire(t, now_, fx);
        EXPECT_NE(why, refusal::none) << "ticket " << t << " neither granted nor waiting";
        refused_.insert(t);
        people_[owner_[t]].ticket.reset();
        apply(fx, before, "expire");
        any = true;
      }
      for (auto it = hibernating_.begin(); it != hibernating_.end();) {
        if (it->second > now_) {
          ++it;
          continue;
        }
        effects fx;
        auto id = it->first;
        it = hibernating_.erase(it);
        if (!book_.holds(id) || people_[id].ticket)
          continue;  // it went meanwhile (and may wait again): nothing to hibernate
        book_.release(id, now_, fx);  // an asked session that hibernates gives its slot back
        apply(fx, before, "hibernated");
        any = true;
      }
      if (recheck_at_ && *recheck_at_ <= now_) {
        recheck_at_.reset();
        effects fx;
        book_.recheck(now_, fx);
        apply(fx, before, "recheck");
        any = true;
      }
      if (any) check(-1, "timers");
      if (now_ >= until) return;
    }
  }

  void check(int i, const std::string& what) {
    std::ostringstream ctx;
    ctx << "step " << i << " (" << what << "): in use " << book_.in_use() << "/" << cfg_.budget
        << ", waiting " << book_.waiting() << ", starting " << book_.starting();
    ASSERT_LE(book_.in_use(), cfg_.budget) << ctx.str();
    if (cfg_.max_starting > 0) {
      ASSERT_LE(book_.starting(), cfg_.max_starting) << ctx.str();
    }
    for (auto& [tenant, n] : held_by_tenant())
      ASSERT_LE(n, cfg_.tenant_share) << tenant << ": " << ctx.str();
    for (auto& [t, at] : deadline_) {
      bool open = !granted_.count(t) && !refused_.count(t) && !gone_.count(t);
      ASSERT_EQ(open, book_.is_waiting(t)) << "ticket " << t << ": " << ctx.str();
      if (open) {
        ASSERT_LE(now_, at) << "ticket " << t << " waited beyond ADMISSION_WAIT: " << ctx.str();
      }
    }
    auto blocked = book_.blocked_by_budget();
    auto yieldable = book_.yieldable();
    auto asks = book_.asks_on_their_way(now_);
    if (blocked > 0 && yieldable > 0 && !tenant_waiters()) {
      ASSERT_GE(asks, std::min(blocked, yieldable))
          << "waiters kept by the budget while slots could be given up, too few asks: "
          << ctx.str();
    }
    if (blocked > 0 && yieldable > 0) {
      ASSERT_GE(asks, 1u) << "a waiter kept by the budget and nobody asked: " << ctx.str();
    }
  }

  /// Whether some waiter's tenant holds its share (its asks are its own tenant's).
  bool tenant_waiters() const {
    auto held = held_by_tenant();
    for (auto& [id, c] : people_)
      if (c.ticket && held[c.tenant] >= cfg_.tenant_share) return true;
    return false;
  }

  book book_;
  book_config cfg_;
  std::mt19937_64 rng_;
  time_point now_{};
  std::map<claimant_id, claimant> people_;
  claimant_id next_adopter_ = 100;
  std::map<uint64_t, time_point> deadline_;
  std::map<uint64_t, claimant_id> owner_;
  std::set<uint64_t> granted_, refused_, gone_;
  std::map<claimant_id, time_point> hibernating_;
  std::optional<time_point> recheck_at_;
  int warm_granted_ = 0;
};

}  // namespace

TEST(admission_book, random_sequences_keep_every_invariant) {
  for (uint64_t seed = 1; seed <= 1000 && !::testing::Test::HasFailure(); ++seed) {
    std::mt19937_64 pick{seed};
    book_config cfg;
    cfg.budget = static_cast<uint32_t>(pick() % 5 + 1);
    cfg.tenant_share = static_cast<uint32_t>(pick() % cfg.budget + 1);
    cfg.max_starting = static_cast<uint32_t>(pick() % 4);
    cfg.patience = 2s;
    SCOPED_TRACE("seed " + std::to_string(seed) + ", budget " + std::to_string(cfg.budget) +
                 ", share " + std::to_string(cfg.tenant_share) + ", start cap " +
                 std::to_string(cfg.max_starting));
    simulation{cfg, seed}.run(400);
  }
}

TEST(admission_book, an_ask_to_the_pool_that_went_nowhere_stops_counting) {
  book_config cfg;
  cfg.budget = 2;
  cfg.tenant_share = 2;
  book b{cfg};
  time_point now{};
  effects fx;
  ASSERT_TRUE(b.acquire_warm());
  b.warm_ready(now, fx);
  uint64_t ticket = 0;
  ASSERT_TRUE(b.acquire(1, "a", true, now, ticket, fx));
  ASSERT_FALSE(b.acquire(2, "b", true, now, ticket, fx));
  EXPECT_EQ(fx.ask_pool, 1u);
  // The pool hands its process to a new session instead of ending it.
  effects adopt;
  b.adopt_warm(3, "c", now, adopt);
  EXPECT_EQ(b.asks_on_their_way(now), 0u) << "the pool has nothing left to give";
  effects idle;
  b.idle(1, now, idle);
  ASSERT_EQ(idle.hibernate, std::vector<claimant_id>{1});
  effects freed;
  b.release(1, now, freed);
  EXPECT_EQ(freed.granted, std::vector<uint64_t>{ticket});
}

TEST(admission_book, a_tenants_own_share_replaces_the_default) {
  book_config cfg;
  cfg.budget = 4;
  cfg.tenant_share = 1;
  book b{cfg};
  time_point now{};
  effects fx;
  uint64_t ticket = 0;
  ASSERT_TRUE(b.acquire(1, "a", true, now, ticket, fx));
  ASSERT_FALSE(b.acquire(2, "a", true, now, ticket, fx)) << "the default share is 1";
  // Its own share of 2 serves the waiter at once.
  effects raised;
  b.set_share("a", 2, now, raised);
  EXPECT_EQ(b.share_of("a"), 2u);
  EXPECT_EQ(raised.granted, std::vector<uint64_t>{ticket});
  uint64_t third = 0;
  EXPECT_FALSE(b.acquire(3, "a", true, now, third, fx));
  EXPECT_EQ(b.expire(third, now, fx), refusal::tenant);
  // Another tenant still has the default; a share of 0 keeps a tenant out.
  EXPECT_EQ(b.share_of("b"), 1u);
  effects none;
  b.set_shares({{"b", 0}}, now, none);
  EXPECT_EQ(b.share_of("a"), 1u) << "set_shares replaces every own share";
  uint64_t blocked = 0;
  EXPECT_FALSE(b.acquire(4, "b", true, now, blocked, fx));
  EXPECT_EQ(b.expire(blocked, now, fx), refusal::tenant);
  effects back;
  b.set_share("b", std::nullopt, now, back);
  EXPECT_EQ(b.share_of("b"), 1u);
}

TEST(admission_book, an_asked_session_that_never_goes_is_asked_again_after_patience) {
  book_config cfg;
  cfg.budget = 1;
  cfg.patience = 2s;
  book b{cfg};
  time_point now{};
  effects fx;
  uint64_t ticket = 0;
  ASSERT_TRUE(b.acquire(1, "a", true, now, ticket, fx));
  b.idle(1, now, fx);
  effects first;
  ASSERT_FALSE(b.acquire(2, "b", true, now, ticket, first));
  EXPECT_EQ(first.hibernate, std::vector<claimant_id>{1});
  EXPECT_TRUE(first.recheck);
  effects early;
  b.recheck(now + 1s, early);
  EXPECT_TRUE(early.hibernate.empty()) << "still on its way";
  effects late;
  b.recheck(now + 3s, late);
  EXPECT_EQ(late.hibernate, std::vector<claimant_id>{1}) << "asked again";
}
