#pragma once
// Who is calling: the result of verifying a bearer token. Plain data, no dependencies, so
// the HTTP layer can carry it without knowing anything about JWT.

#include <string>
#include <variant>
#include <vector>

namespace svc::auth {

struct principal {
    std::string subject;             // the token's `sub`, 1-128 chars
    std::vector<std::string> roles;  // from `roles` (array) or `scope` (space-separated)
    bool is_admin = false;           // `admin` in roles or `orders:admin` in scope
};

// Why a request is not authenticated; becomes 401 with WWW-Authenticate.
struct failure {
    std::string detail;        // a sentence for the client, e.g. "Token has expired"
    bool token_given = false;  // adds error="invalid_token" to WWW-Authenticate
};

using result = std::variant<principal, failure>;

}  // namespace svc::auth
