"""Authentication through the real binary over loopback HTTP: 401 bodies and challenges,
403 for a missing role, RS256 with an openssl key, the `token` subcommand, the dev secret
file (mode 0600) and the start-up refusals (exit 2).

Tokens are minted here with PyJWT (or by hand with hmac/base64 where no library would),
keys by `openssl genpkey`; the only token our own code mints is the `token` subcommand's,
and that one is checked with PyJWT.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import time
import uuid

import jwt
import pytest
import requests

import harness

SECRET = "functional-auth-secret-" + uuid.uuid4().hex
USER_ROUTE = "/orders"  # user access: any valid token
ADMIN_ROUTE = "/products"  # POST needs the admin role


def mint(sub="alice", secret=SECRET, algorithm="HS256", **claims) -> str:
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + 600}
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=algorithm)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def get(service, path, token=None, headers=None):
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return requests.get(service.url(path), headers=h, timeout=5)


def assert_unauthorized(response, detail, token_given=True):
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": detail, "type": "unauthorized"}
    expected = 'Bearer error="invalid_token"' if token_given else "Bearer"
    assert response.headers["WWW-Authenticate"] == expected


@pytest.fixture(scope="module")
def service_env():
    return {"JWT_SECRET": SECRET}


# ---- 401: what is wrong, in a sentence -------------------------------------------------


def test_no_token_is_401_with_a_plain_bearer_challenge(service):
    assert_unauthorized(get(service, USER_ROUTE), "Authentication required: send an Authorization: Bearer token",
                        token_given=False)


def test_other_schemes_and_empty_bearer_are_401_without_invalid_token(service):
    r = get(service, USER_ROUTE, headers={"Authorization": "Basic YWxpY2U6cGFzcw=="})
    assert_unauthorized(r, "Authorization header must use the Bearer scheme", token_given=False)
    r = get(service, USER_ROUTE, headers={"Authorization": "Bearer "})
    assert_unauthorized(r, "Bearer token is missing", token_given=False)


@pytest.mark.parametrize(
    "make_token, detail",
    [
        (lambda: mint(secret="not-the-server-secret"), "Token signature is invalid"),
        (lambda: mint(exp=int(time.time()) - 120), "Token has expired"),
        (lambda: mint(nbf=int(time.time()) + 600), "Token is not valid yet"),
        (lambda: mint(iat=int(time.time()) + 600), "Token was issued in the future"),
        (lambda: mint(sub="x" * 129), "Token subject must be a string of 1 to 128 characters"),
        (lambda: mint(sub=42), "Token subject must be a string of 1 to 128 characters"),
        (lambda: jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, None, algorithm="none"),
         "Token algorithm is not accepted"),
        (lambda: mint(algorithm="HS512"), "Token algorithm is not accepted"),
        (lambda: "not-a-jwt", "Token is malformed"),
        (lambda: mint() + "=", "Token is malformed"),
        (lambda: mint(padding="x" * 9000), "Token is too large"),
    ],
    ids=["bad-signature", "expired", "nbf-future", "iat-future", "sub-too-long", "sub-number", "alg-none",
         "alg-hs512", "garbage", "padding", "oversize"],
)
def test_bad_tokens_are_401_invalid_token_with_a_sentence(service, make_token, detail):
    assert_unauthorized(get(service, USER_ROUTE, token=make_token()), detail)


def test_expired_within_the_leeway_is_still_accepted(service):
    assert get(service, USER_ROUTE, token=mint(exp=int(time.time()) - 5)).status_code == 200


def test_authentication_comes_before_the_body(service):
    r = requests.post(service.url("/orders"), data=b"{not json", timeout=5,
                      headers={"Content-Type": "application/json"})
    assert_unauthorized(r, "Authentication required: send an Authorization: Bearer token", token_given=False)
    r = requests.post(service.url("/orders"), data=b"{not json", timeout=5,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + mint(exp=1)})
    assert_unauthorized(r, "Token has expired")


def test_public_routes_need_no_token(service):
    assert get(service, "/health").status_code == 200
    assert get(service, "/health", token="garbage").status_code == 200


# ---- roles: 403 ------------------------------------------------------------------------


def new_product():
    return {"id": "p-" + uuid.uuid4().hex[:10], "name": "Auth test", "price_cents": 100, "stock": 1}


def test_valid_token_without_admin_is_403_on_admin_routes(service):
    for token in (mint(), mint(roles=["user"]), mint(scope="orders:read orders:write")):
        r = requests.post(service.url(ADMIN_ROUTE), json=new_product(), timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403, r.text
        assert r.json()["type"] == "forbidden"
        assert "WWW-Authenticate" not in r.headers


@pytest.mark.parametrize("claims", [{"roles": ["admin"]}, {"roles": ["orders:admin"]}, {"scope": "orders:admin"},
                                    {"scope": "read admin"}])
def test_admin_comes_from_roles_or_scope(service, claims):
    r = requests.post(service.url(ADMIN_ROUTE), json=new_product(), timeout=5,
                      headers={"Authorization": f"Bearer {mint(sub='root', **claims)}"})
    assert r.status_code == 201, r.text


# ---- the embedded default: dev secret + `token` subcommand ------------------------------


def test_dev_secret_and_token_subcommand_work_together(service_factory, tmp_path):
    s = service_factory(env={"JWT_SECRET": ""})
    secret_file = s.data_dir / "jwt-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) == 64 and all(c in "0123456789abcdef" for c in secret)

    minted = harness.run_binary("token", "--sub", "alice", "--role", "admin", "--ttl", "120",
                                env={"DATA_DIR": str(s.data_dir), "JWT_SECRET": ""})
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert "\n" not in token
    claims = jwt.decode(token, secret, algorithms=["HS256"])  # an independent verifier agrees
    assert claims["sub"] == "alice" and claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 120

    assert get(s, USER_ROUTE, token=token).status_code == 200
    r = requests.post(s.url(ADMIN_ROUTE), json=new_product(), timeout=5, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    # PyJWT tokens signed with the file's content work too: the file is the key.
    assert get(s, USER_ROUTE, token=mint(secret=secret)).status_code == 200
    assert s.stop() == 0
    assert str(secret_file) in s.stderr()  # start-up said where the key is (logs flush at exit)


def test_dev_secret_survives_a_restart(service_factory):
    first = service_factory(env={"JWT_SECRET": ""})
    secret = (first.data_dir / "jwt-secret").read_text()
    assert first.stop() == 0
    again = harness.start_service(first.data_dir.parent, env={"JWT_SECRET": ""})
    try:
        assert (again.data_dir / "jwt-secret").read_text() == secret
        assert get(again, USER_ROUTE, token=mint(secret=secret.strip())).status_code == 200
    finally:
        again.stop()


def test_token_subcommand_includes_configured_issuer_and_audience(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "JWT_SECRET": SECRET, "JWT_ISSUER": "https://id.example",
           "JWT_AUDIENCE": "orders"}
    minted = harness.run_binary("token", "--sub", "bob", env=env)
    assert minted.returncode == 0, minted.stderr
    claims = jwt.decode(minted.stdout.strip(), SECRET, algorithms=["HS256"], audience="orders",
                        issuer="https://id.example")
    assert claims["sub"] == "bob" and claims["roles"] == []
    assert not (tmp_path / "jwt-secret").exists()  # a configured secret needs no dev secret


def test_token_subcommand_refuses_bad_input(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "JWT_SECRET": ""}
    assert harness.run_binary("token", env=env).returncode == 2  # --sub is required
    r = harness.run_binary("token", "--sub", "x" * 129, env=env)
    assert r.returncode == 2 and "1 to 128" in r.stderr
    assert harness.run_binary("token", "--sub", "a", "--ttl", "0", env=env).returncode == 2


# ---- RS256 with an openssl key, and key confusion ----------------------------------------


def test_rs256_end_to_end_and_hs256_with_the_public_key_is_refused(service_factory, tmp_path):
    private_pem, public_pem = tmp_path / "rsa.pem", tmp_path / "rsa.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(private_pem)], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "pkey", "-in", str(private_pem), "-pubout", "-out", str(public_pem)],
                   check=True, capture_output=True, timeout=60)
    s = service_factory(env={"JWT_SECRET": "", "JWT_ALGORITHMS": "RS256", "JWT_PUBLIC_KEY_FILE": str(public_pem)})
    assert not (s.data_dir / "jwt-secret").exists()

    good = mint(secret=private_pem.read_bytes(), algorithm="RS256", roles=["admin"])
    assert get(s, USER_ROUTE, token=good).status_code == 200

    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": "mallory", "exp": int(time.time()) + 600, "roles": ["admin"]}).encode())
    mac = hmac.new(public_pem.read_bytes(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{b64url(mac)}"
    assert_unauthorized(get(s, USER_ROUTE, token=forged), "Token algorithm is not accepted")

    # `token` cannot mint RS256: it says so and exits 2.
    r = harness.run_binary("token", "--sub", "a", env={"JWT_SECRET": "", "JWT_ALGORITHMS": "RS256",
                                                       "JWT_PUBLIC_KEY_FILE": str(public_pem),
                                                       "DATA_DIR": str(tmp_path)})
    assert r.returncode == 2 and "HS256" in r.stderr


def test_hs256_rotation_accepts_the_previous_secret_until_it_is_dropped(service_factory):
    # Step 1 of a rotation: pods get the new JWT_SECRET and keep the old one as
    # JWT_PREVIOUS_SECRET; tokens of either verify, anything else does not.
    new_secret, old_secret = "rotated-" + uuid.uuid4().hex, SECRET
    s = service_factory(env={"JWT_SECRET": new_secret, "JWT_PREVIOUS_SECRET": old_secret})
    assert get(s, USER_ROUTE, token=mint(secret=new_secret)).status_code == 200
    assert get(s, USER_ROUTE, token=mint(secret=old_secret)).status_code == 200
    assert_unauthorized(get(s, USER_ROUTE, token=mint(secret="neither-" + uuid.uuid4().hex)),
                        "Token signature is invalid")
    # Step 2, one token lifetime later: without the previous secret its tokens are refused.
    s2 = service_factory(env={"JWT_SECRET": new_secret})
    assert_unauthorized(get(s2, USER_ROUTE, token=mint(secret=old_secret)), "Token signature is invalid")
    assert get(s2, USER_ROUTE, token=mint(secret=new_secret)).status_code == 200


def test_rs256_rotation_accepts_the_previous_public_key(service_factory, tmp_path):
    keys = {}
    for name in ("old", "new"):
        private_pem, public_pem = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(private_pem)], check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", str(private_pem), "-pubout", "-out", str(public_pem)],
                       check=True, capture_output=True, timeout=60)
        keys[name] = (private_pem, public_pem)
    s = service_factory(env={"JWT_SECRET": "", "JWT_ALGORITHMS": "RS256",
                             "JWT_PUBLIC_KEY_FILE": str(keys["new"][1]),
                             "JWT_PREVIOUS_PUBLIC_KEY_FILE": str(keys["old"][1])})
    for name in ("new", "old"):
        token = mint(secret=keys[name][0].read_bytes(), algorithm="RS256")
        assert get(s, USER_ROUTE, token=token).status_code == 200, name


def test_rate_limit_answers_429_per_client_with_retry_after(service_factory):
    s = service_factory(env={"JWT_SECRET": SECRET, "RATE_LIMIT_PER_SECOND": "0.5", "RATE_LIMIT_BURST": "3"})
    alice, bob = mint(sub="alice"), mint(sub="bob")
    assert [get(s, USER_ROUTE, token=alice).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(s, USER_ROUTE, token=alice)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Rate limit exceeded: 0.5 requests per second per client",
                              "type": "rate_limited"}
    # One token every 2 s, so the next one is at most 2 s away (slow as the test may run).
    assert refused.headers["Retry-After"] in ("1", "2")
    assert refused.headers["X-Request-ID"]
    # Another client has its own bucket; probes and unauthenticated requests are not limited.
    assert get(s, USER_ROUTE, token=bob).status_code == 200
    assert all(get(s, "/health").status_code == 200 for _ in range(10))
    assert get(s, USER_ROUTE).status_code == 401
    time.sleep(int(refused.headers["Retry-After"]) + 0.1)
    assert get(s, USER_ROUTE, token=alice).status_code == 200
    metrics = get(s, "/metrics").text
    assert 'http_requests_total{method="GET",route="/orders",status="429"} 1' in metrics


def test_no_rate_limit_by_default(service):
    token = mint(sub="carol")
    assert all(get(service, USER_ROUTE, token=token).status_code == 200 for _ in range(30))


# ---- start-up refusals: exit 2 with a clear message --------------------------------------


@pytest.mark.parametrize(
    "env, message",
    [
        ({"JWT_ALGORITHMS": "none"}, "none"),
        ({"JWT_ALGORITHMS": "HS256,XS999"}, "XS999"),
        ({"JWT_SECRET": "", "JWT_ALGORITHMS": "RS256"}, "JWT_PUBLIC_KEY_FILE is not set"),
        ({"JWT_SECRET": "", "JWT_ALGORITHMS": "ES256", "JWT_PUBLIC_KEY_FILE": "/nonexistent/key.pem"},
         "cannot read JWT_PUBLIC_KEY_FILE"),
        ({"JWT_LEEWAY_SECONDS": "-1"}, "--jwt-leeway-seconds"),
        ({"RATE_LIMIT_PER_SECOND": "-5"}, "--rate-limit-per-second"),
        ({"JWT_PREVIOUS_PUBLIC_KEY_FILE": "/nonexistent/old.pem"}, "cannot read JWT_PREVIOUS_PUBLIC_KEY_FILE"),
        ({"JWT_PREVIOUS_SECRET": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"},
         "JWT_PREVIOUS_SECRET looks like a PEM key"),
    ],
    ids=["none", "unknown-alg", "rs256-without-key", "missing-key-file", "negative-leeway",
         "negative-rate-limit", "missing-previous-key-file", "pem-as-previous-secret"],
)
def test_bad_auth_settings_stop_the_service_with_exit_2(service_factory, env, message):
    s = service_factory(env={"JWT_SECRET": SECRET, **env}, wait_ready=False)
    code = s.wait(timeout=20)
    assert code == 2
    assert message in s.stderr()


def test_postgresql_without_a_key_refuses_to_start(service_factory, test_database_url):
    s = service_factory(env={"DATABASE_URL": test_database_url, "JWT_SECRET": ""}, wait_ready=False)
    assert s.wait(timeout=20) == 2
    assert "no token signing key is configured" in s.stderr()
    assert not (s.data_dir / "jwt-secret").exists()


def test_a_fifo_as_dev_secret_refuses_to_start_at_once(tmp_path):
    data_dir = tmp_path / "service" / "data"
    data_dir.mkdir(parents=True)
    os.mkfifo(data_dir / "jwt-secret", 0o600)
    s = harness.start_service(data_dir.parent, env={"JWT_SECRET": ""}, wait_ready=False)
    try:
        assert s.wait(timeout=30) == 2  # it used to wait forever for a writer, saying nothing
        assert f"the JWT dev secret {data_dir / 'jwt-secret'} is a FIFO, not a regular file" in s.stderr()
    finally:
        s.stop()


def test_world_readable_dev_secret_refuses_to_start(service_factory, tmp_path):
    first = service_factory(env={"JWT_SECRET": ""})
    assert first.stop() == 0
    (first.data_dir / "jwt-secret").chmod(0o644)
    again = harness.start_service(first.data_dir.parent, env={"JWT_SECRET": ""}, wait_ready=False)
    try:
        assert again.wait(timeout=20) == 2
        assert "chmod 600" in again.stderr()
    finally:
        again.stop()
