"""Badge actors' signing keys: one RSA key pair per badge actor.

Mastodon and Fedify accept a signed activity only when the key's owner is the activity's
actor (Mastodon process_collection_service.rb `different_actor?`; interop checklist §7 item 6),
so the instance key cannot sign a badge's Announce: every badge actor has its own pair. Pairs
are made on first use and kept as settings; `put_setting_if_absent` makes the first writer win
when several processes race, so a badge never gets two keys.
"""

from __future__ import annotations

import asyncio
import json

from federation.keys import KeyPair, generate_rsa_keypair
from fedipoly.store.base import Store

# Deliveries name their signer by account id; a badge actor's signer id carries this prefix
# (account ids are hex, so the two never meet).
BADGE_SIGNER_PREFIX = "badge:"
_SETTING_PREFIX = "badge_actor_keypair:"


def badge_signer_id(badge_id: str) -> str:
    return f"{BADGE_SIGNER_PREFIX}{badge_id}"


def badge_id_of_signer(signer_id: str) -> str | None:
    """The badge id when `signer_id` names a badge actor, else None."""
    if signer_id.startswith(BADGE_SIGNER_PREFIX):
        return signer_id[len(BADGE_SIGNER_PREFIX) :] or None
    return None


async def badge_keys(store: Store, badge_id: str) -> KeyPair:
    """The badge actor's key pair, made and stored on first use."""
    name = f"{_SETTING_PREFIX}{badge_id}"
    stored = await store.get_setting(name)
    if stored is None:
        fresh = await asyncio.to_thread(generate_rsa_keypair)
        stored = await store.put_setting_if_absent(
            name, json.dumps({"private": fresh.private_pem, "public": fresh.public_pem})
        )
    pair = json.loads(stored)
    return KeyPair(private_pem=pair["private"], public_pem=pair["public"])
