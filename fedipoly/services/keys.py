"""Signing keys: the instance actor's key pair and request signers for members and the instance."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from federation.client import RequestSigner
from federation.httpsig import sign_request
from federation.keys import KeyPair, generate_rsa_keypair
from fedipoly.models import Clock
from fedipoly.store.base import Store

INSTANCE_KEY_SETTING = "instance_actor_keypair"


async def load_instance_keys(store: Store) -> KeyPair:
    """The instance actor's keys, made once per instance (first writer wins across processes)."""
    stored = await store.get_setting(INSTANCE_KEY_SETTING)
    if stored is None:
        fresh = await asyncio.to_thread(generate_rsa_keypair)
        stored = await store.put_setting_if_absent(
            INSTANCE_KEY_SETTING,
            json.dumps({"private": fresh.private_pem, "public": fresh.public_pem}),
        )
    pair = json.loads(stored)
    return KeyPair(private_pem=pair["private"], public_pem=pair["public"])


def make_signer(key_id: str, private_key_pem: str, clock: Clock) -> RequestSigner:
    """A draft-cavage rsa-sha256 signer: what every Mastodon version verifies."""

    def sign(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Mapping[str, str]:
        return sign_request(
            method=method,
            url=url,
            headers=headers,
            body=body,
            key_id=key_id,
            private_key_pem=private_key_pem,
            now=clock(),
        )

    return sign
