#!/usr/bin/python3
"""Mints JWTs for the auth tests with an implementation independent of ours (PyJWT and the
Python standard library), so the C++ verifier is never checked against its own encoder.

Reads one JSON request on stdin and writes {"tokens": {name: token}, "decoded": ...} on
stdout. Each entry of request["tokens"] is one of:

  {"name", "alg", "claims", "key": {"secret": "..."} | {"pem_file": "path"},
   "headers": {...}}                   -> PyJWT's jwt.encode
  {"name", "manual": {"header": "<raw text>", "payload": "<raw text>",
   "hmac_secret": "..." | "hmac_key_file": "path" | "der_es256_key_file": "path" |
   "signature": "<raw base64url text>"}}
                                       -> built by hand: raw (possibly invalid) JSON texts,
                                          base64url-encoded, then signed as asked

request["decode"] (optional): [{"name", "token", "secret"}] -> PyJWT's jwt.decode of a token
minted by our own code, HS256 only, returned under "decoded".
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def mint_with_pyjwt(spec: dict) -> str:
    key = spec["key"]
    signing_key = key["secret"] if "secret" in key else read_bytes(key["pem_file"])
    if spec["alg"] == "none":
        signing_key = None
    return jwt.encode(spec["claims"], signing_key, algorithm=spec["alg"], headers=spec.get("headers"))


def mint_by_hand(manual: dict) -> str:
    signing_input = b64url(manual["header"].encode()) + "." + b64url(manual["payload"].encode())
    if "signature" in manual:
        signature = manual["signature"]
    elif "hmac_secret" in manual:
        mac = hmac.new(manual["hmac_secret"].encode(), signing_input.encode(), hashlib.sha256)
        signature = b64url(mac.digest())
    elif "hmac_key_file" in manual:
        # The key-confusion attack: the verifier's *public* PEM used as an HMAC secret.
        mac = hmac.new(read_bytes(manual["hmac_key_file"]), signing_input.encode(), hashlib.sha256)
        signature = b64url(mac.digest())
    elif "der_es256_key_file" in manual:
        # A valid ECDSA signature in DER form, which JWS forbids (it wants raw r||s).
        private_key = serialization.load_pem_private_key(read_bytes(manual["der_es256_key_file"]), None)
        signature = b64url(private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    else:
        raise ValueError("manual token without a signing instruction")
    return signing_input + "." + signature


def main() -> None:
    request = json.load(sys.stdin)
    tokens = {}
    for spec in request.get("tokens", []):
        tokens[spec["name"]] = mint_by_hand(spec["manual"]) if "manual" in spec else mint_with_pyjwt(spec)
    decoded = {}
    for spec in request.get("decode", []):
        decoded[spec["name"]] = jwt.decode(
            spec["token"], spec["secret"], algorithms=["HS256"], options={"verify_aud": False}
        )
    json.dump({"tokens": tokens, "decoded": decoded}, sys.stdout)


if __name__ == "__main__":
    main()
