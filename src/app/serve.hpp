#pragma once
// The commands of the binary. Each returns the process exit code.

#include "app/config.hpp"

namespace svc::app {

// `serve`, in this order: logging and process metrics → open-file limit raised to the hard
// limit (a warning when MAX_CONNECTIONS cannot fit) → event loops → authentication (the JWT
// verifier; a bad key setting returns 2 before the database is touched) → database (migrate,
// or check the schema under --no-migrate; open the pool or the SQLite workers; failure
// returns 1) → order store, route table, Idempotency-Key purge on loop 0 → listen on PORT, and
// on ADMIN_PORT for the system routes when set (cannot bind: 1) → serve until SIGTERM/SIGINT.
// Then /ready turns 503, the server drains for at most the shutdown grace, the database
// closes, and serve returns 0; a second signal stops the loops at once, also with 0. Every
// failure is one `critical` log line.
int serve(const config& cfg);

// `healthcheck`: 0 iff GET /health on cfg.http.host at ADMIN_PORT when set, else PORT (a
// wildcard host is probed on loopback), answers 200 within 2 s; else 1 with one line on stderr.
int healthcheck(const config& cfg);

// `migrate`: applies pending migrations to DATABASE_URL (docs/DATABASE.md), whatever
// MIGRATE says. 0 when the schema is current afterwards, 1 when it cannot be (unreachable
// database, failed migration, schema newer than this binary; the reason is logged).
int migrate(const config& cfg);

// `version`: prints "orders-service <version>".
int version();

}  // namespace svc::app
