#pragma once

#include <caf/actor_system.hpp>

namespace caa {

/// The scheduler module of the service's actor system: CAF's work-stealing scheduler with a clock
/// that wakes its thread only when it has something to do.
///
/// CAF 0.17's clock (`thread_safe_actor_clock`) hands every change to its thread through a
/// queue, and wakes the thread for each: a request's timeout set and cancelled again, a delayed
/// message, a cancelled timer. On the event and write paths that was about four wake-ups of the
/// clock's thread per event at light load (each request to the event writer and to a database
/// worker sets a timeout and cancels it on its answer), each a context switch on both sides. The
/// clock here keeps CAF's schedule (the same entries, the same firing) under a mutex instead,
/// changed by the calling thread, and wakes its thread only when a new entry is due before the
/// time it sleeps until. A request answered in time costs two short critical sections and no
/// wake-up. Expired entries are taken out under the lock and sent outside it.
///
/// A configuration that asks for CAF's `testing` or `sharing` policy gets CAF's scheduler of
/// that policy, unchanged.
caf::actor_system::module* make_scheduler(caf::actor_system& sys);

}  // namespace caa
