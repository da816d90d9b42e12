"""Signed agent cards against the official a2a-sdk 1.3.0 (a2a.utils.signing, PyJWT).

Usage: card_signing_check.py URL PUBLIC_PEM_FILE KID
Resolves the server's card at the well-known path without a version (0.3 form) and with
`A2A-Version: 1.0`, verifies both with the SDK's verifier, checks that a tampered card is
refused, then signs a copy with a fresh P-256 key and prints it (`CARD <json>`) with the
public key (`PUB <json string>`) for the Rust side to verify.
"""

import asyncio
import json
import sys

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.json_format import MessageToDict

from a2a.client.card_resolver import A2ACardResolver
from a2a.types import AgentCard
from a2a.utils.signing import (
    InvalidSignaturesError,
    create_agent_card_signer,
    create_signature_verifier,
)


async def main(url: str, pem_file: str, kid: str) -> None:
    pem = open(pem_file, encoding="utf-8").read()

    def key_provider(k, _jku):
        if k != kid:
            raise SystemExit(f"FAIL unexpected kid {k!r}")
        return pem

    verify = create_signature_verifier(key_provider, ["ES256", "EdDSA"])
    async with httpx.AsyncClient() as http:
        resolver = A2ACardResolver(http, url)
        merged = await resolver.get_agent_card(signature_verifier=verify)
        print(f"OK verify-merged {merged.name}")
        v1 = await resolver.get_agent_card(
            http_kwargs={"headers": {"A2A-Version": "1.0"}}, signature_verifier=verify
        )
        print(f"OK verify-v1 interfaces={len(v1.supported_interfaces)}")
    tampered = AgentCard()
    tampered.CopyFrom(v1)
    tampered.description = "tampered"
    try:
        verify(tampered)
        print("FAIL tampered card verified")
    except InvalidSignaturesError:
        print("OK tamper-refused")

    key = ec.generate_private_key(ec.SECP256R1())
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mine = AgentCard()
    mine.CopyFrom(v1)
    del mine.signatures[:]
    signer = create_agent_card_signer(priv, {"alg": "ES256", "kid": "py-k1", "typ": "JOSE"})
    signer(mine)
    print("CARD " + json.dumps(MessageToDict(mine)))
    print("PUB " + json.dumps(pub.decode()))
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
