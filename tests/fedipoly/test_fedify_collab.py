"""Collaboration requests with an independent ActivityPub server (Fedify): its "Open to"
profile field is read like a Mastodon user's; a request reaches it as a direct Note addressed
only to its actor; its direct messages are ordinary DMs until it answers a request, which then
opens a conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.vocab import as_list
from fedipoly import appkeys
from fedipoly.errors import ValidationFailed
from fedipoly.models import DeliveryState, Visibility
from fedipoly.services.collab import REQUEST_PROPERTY
from tests.instances import eventually, running_instances
from tests.peers.fedify_peer import FedifyPeer

WAIT = 20.0


async def test_fedify_receives_a_request_as_a_direct_note_and_its_answer_opens_a_conversation(
    tmp_path: Path,
) -> None:
    async with (
        FedifyPeer(name="fedi", open_to="Podcast guest, Mentoring") as peer,
        running_instances(
            tmp_path, ["alpha"], extra_allowed=[peer.base_url.split("://", 1)[1]]
        ) as instances,
    ):
        alpha = instances["alpha"]
        alice = await alpha.member("alice")
        alice_uri = alpha.actor("alice")
        collab, store = alpha.app[appkeys.COLLAB], alpha.app[appkeys.STORE]

        # The peer's "Open to" field counts, matched against our catalogue by label.
        assert await collab.open_reasons_of(peer.handle) == [
            ("podcast_guest", "Podcast guest"),
            ("mentoring", "Mentoring"),
        ]
        # It is not a Fedipoly profile: the Space Station does not list it.
        page = await alpha.app[appkeys.SPACE_STATION].search(alice, "mentoring")
        assert page.matches == []

        # A direct message without a reason is an ordinary DM, not a request.
        dm = await peer.post("hello alice", public=False, to_followers=False, mention=alice_uri)

        async def in_home() -> bool:
            return dm["id"] in [post.uri for post in await alpha.home(alice)]

        await eventually(in_home, timeout=WAIT)
        assert (await collab.received(alice)).items == []
        assert (await alpha.app[appkeys.CONVERSATIONS].page(alice)).items == []

        with pytest.raises(ValidationFailed):
            await collab.send(alice, peer.handle, "hiring", "Join us?")
        request = await collab.send(alice, peer.handle, "mentoring", "Would you mentor me?")

        create = await peer.wait_for(
            lambda a: a["type"] == "Create" and a["object_id"] == request.uri, timeout=WAIT
        )
        assert create["actor"] == alice_uri
        assert create["recipient"] == "fedi"  # its own inbox, not the shared one
        note = create["raw"]["object"]
        assert note["to"] == [peer.actor_url] and note["cc"] == []
        assert create["raw"]["to"] == [peer.actor_url]
        assert [(tag["type"], tag["href"]) for tag in note["tag"]] == [("Mention", peer.actor_url)]
        assert "Collaboration request: Mentoring" in note["content"]
        assert "Would you mentor me?" in note["content"]
        assert note[REQUEST_PROPERTY]["fedipoly:reason"] == "mentoring"
        # Fedify itself reads it as a Note addressed to its actor alone.
        parsed = create["json"]["object"]
        assert parsed["type"] == "Note"
        assert as_list(parsed["to"]) == [peer.actor_url]
        assert as_list(parsed.get("cc")) == []

        # The peer answers directly: that is consent, and a conversation opens on alpha.
        answer = await peer.post(
            "Sure, let's talk!",
            public=False,
            to_followers=False,
            mention=alice_uri,
            in_reply_to=request.uri,
        )

        async def conversation_opened() -> list[str]:
            page = await alpha.app[appkeys.CONVERSATIONS].page(alice)
            if not page.items:
                return []
            messages = await alpha.app[appkeys.CONVERSATIONS].messages(
                alice, page.items[0].conversation.id
            )
            return [post.uri for post in messages.messages]

        assert await eventually(conversation_opened, timeout=WAIT) == [answer["id"]]
        stored = await store.get_post_by_uri(answer["id"])
        assert stored is not None and stored.visibility is Visibility.DIRECT

        # alice's reply goes back to the peer as a direct Note, threaded under its answer.
        conversation = (await alpha.app[appkeys.CONVERSATIONS].page(alice)).items[0]
        reply = await alpha.app[appkeys.CONVERSATIONS].send(
            alice, conversation.conversation.id, "Great, thank you!"
        )
        create = await peer.wait_for(
            lambda a: a["type"] == "Create" and a["object_id"] == reply.uri, timeout=WAIT
        )
        assert create["raw"]["object"]["to"] == [peer.actor_url]
        assert create["raw"]["object"]["inReplyTo"] == answer["id"]
        assert await peer.rejected() == []

        async def settled() -> bool:
            assert await store.count_deliveries(DeliveryState.GAVE_UP) == 0
            return await store.count_deliveries(DeliveryState.PENDING) == 0

        await eventually(settled, timeout=WAIT)
