"""Every public URL and ActivityPub id this instance mints, built from `server.public_url`.

Ids must never change once published (peers compare them byte for byte), so they are built
in this one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

INSTANCE_ACTOR_PATH = "/actor"


@dataclass(frozen=True)
class Urls:
    base: str  # scheme://host[:port], no trailing slash

    @property
    def domain(self) -> str:
        return urlsplit(self.base).netloc.lower()

    @property
    def scheme(self) -> str:
        return urlsplit(self.base).scheme

    def actor(self, username: str) -> str:
        return f"{self.base}/users/{username}"

    def key_id(self, username: str) -> str:
        return f"{self.actor(username)}#main-key"

    def inbox(self, username: str) -> str:
        return f"{self.actor(username)}/inbox"

    def outbox(self, username: str) -> str:
        return f"{self.actor(username)}/outbox"

    def followers(self, username: str) -> str:
        return f"{self.actor(username)}/followers"

    def following(self, username: str) -> str:
        return f"{self.actor(username)}/following"

    def featured(self, username: str) -> str:
        return f"{self.actor(username)}/collections/featured"

    def featured_tags(self, username: str) -> str:
        return f"{self.actor(username)}/collections/tags"

    def profile(self, username: str) -> str:
        return f"{self.base}/@{username}"

    def note(self, username: str, post_id: str) -> str:
        return f"{self.actor(username)}/statuses/{post_id}"

    def note_activity(self, username: str, post_id: str) -> str:
        return f"{self.note(username, post_id)}/activity"

    def note_page(self, username: str, post_id: str) -> str:
        return f"{self.profile(username)}/{post_id}"

    def activity(self, username: str, kind: str, activity_id: str) -> str:
        """Ids for Follow, Accept, Reject, Undo, Update, Delete activities we send."""
        return f"{self.actor(username)}#{kind}/{activity_id}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}{INSTANCE_ACTOR_PATH}"

    @property
    def instance_key_id(self) -> str:
        return f"{self.instance_actor}#main-key"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{quote(name.lower())}"

    def badge_page(self, slug: str) -> str:
        """A catalogue badge's public page (slugs are ^[a-z0-9_]{1,64}$: nothing to quote)."""
        return f"{self.base}/badges/{slug}"

    def badge_actor(self, badge_id: str) -> str:
        """A badge's Group actor. Keyed by the badge's id, not its slug, so a renamed badge
        keeps its followers (ids are hex: nothing to quote)."""
        return f"{self.base}/badge-actors/{badge_id}"

    def badge_key_id(self, badge_id: str) -> str:
        return f"{self.badge_actor(badge_id)}#main-key"

    def local_badge_id(self, actor_uri: str) -> str | None:
        """The badge id when `actor_uri` is one of our badge actors, else None."""
        prefix = f"{self.base}/badge-actors/"
        if not actor_uri.startswith(prefix):
            return None
        rest = actor_uri[len(prefix) :]
        return rest if rest and rest.isalnum() else None

    def media(self, media_id: str) -> str:
        """An uploaded image (ids are [A-Za-z0-9_-]+ plus an extension: nothing to quote)."""
        return f"{self.base}/media/{media_id}"

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower() == self.base.lower()

    def local_username(self, actor_uri: str) -> str | None:
        """The username when `actor_uri` is one of our member actors, else None."""
        prefix = f"{self.base}/users/"
        if not actor_uri.startswith(prefix):
            return None
        rest = actor_uri[len(prefix) :]
        return rest if rest and "/" not in rest and "#" not in rest and "?" not in rest else None
