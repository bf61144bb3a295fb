#pragma once
// The commands of the binary. Each returns the process exit code.

#include "app/config.hpp"

namespace svc::app {

// `serve`: config → [database open + migrate] → [authenticator] → route table → listen →
// run until SIGTERM/SIGINT → graceful shutdown. 0 after a clean shutdown, 1 when start-up
// fails (the reason is logged).
int serve(const config& cfg);

// `healthcheck`: 0 iff GET /health on cfg.http.host:port answers 200 within 2 s, else 1.
int healthcheck(const config& cfg);

// `migrate`: applies pending migrations to DATABASE_URL (docs/DATABASE.md). 0 when the
// schema is current afterwards, 1 when it cannot be (the reason is logged).
int migrate(const config& cfg);

// `version`: prints "orders-service <version>".
int version();

}  // namespace svc::app
