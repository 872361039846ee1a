"""Domain objects to ActivityStreams JSON in the shapes Mastodon reads.

Shapes follow Mastodon's serializers (app/serializers/activitypub/actor_serializer.rb,
note_serializer.rb, accept_follow_serializer.rb, delete_actor_serializer.rb): plain compacted keys,
the AS2 context first, and the same to/cc on an activity and its object.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from federation.vocab import AS_CONTEXT, PUBLIC, SECURITY_CONTEXT
from fedipoly.models import Account, Badge, MemberBadge, Post, Profile, Visibility
from fedipoly.names import badge_hashtag
from fedipoly.urls import Urls

JsonObject = dict[str, Any]

# Fedipoly's own JSON-LD vocabulary (profile headline, all badges with their order). It is an
# identifier, not a page: the same on every instance, so other Fedipoly servers read
# `fedipoly:badges` whoever sent it, and it must never change. w3id.org is the W3C community's
# permanent-identifier service; a redirect to our docs can be registered there later without
# changing the IRI, and nothing ever needs to fetch it.
FEDIPOLY_NS = "https://w3id.org/fedipoly/ns#"
# rel="me" lets Mastodon verify a link that links back; the rest keeps referrers and SEO out.
LINK_REL = "me nofollow noopener noreferrer"

ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "featured": {"@id": "toot:featured", "@type": "@id"},
        "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        # Mastodon expects this (wrong) schema.org IRI: docs spec/activitypub.md "Profile metadata".
        "schema": "http://schema.org#",
        "PropertyValue": "schema:PropertyValue",
        "value": "schema:value",
        "Hashtag": "as:Hashtag",
        "fedipoly": FEDIPOLY_NS,
    },
]
NOTE_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "fedipoly": FEDIPOLY_NS},
]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second, as Mastodon emits and parses it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def profile_fields(profile: Profile) -> list[JsonObject]:
    """Positions, then links, as the PropertyValue fields Mastodon shows on a profile."""
    fields: list[JsonObject] = [
        {"type": "PropertyValue", "name": "Position", "value": html.escape(position)}
        for position in profile.positions
    ]
    for link in profile.links:
        href = html.escape(link.url, quote=True)
        shown = html.escape(link.url.split("://", 1)[-1])
        fields.append(
            {
                "type": "PropertyValue",
                "name": link.label,
                "value": f'<a href="{href}" rel="{LINK_REL}" target="_blank">{shown}</a>',
            }
        )
    return fields


def badge_tags(badges: Sequence[MemberBadge], urls: Urls) -> tuple[list[JsonObject], JsonObject]:
    """Featured badges as Hashtags, and every public badge in the Fedipoly extension.

    Only approved badges leave the server; positions are renumbered among them so a pending or
    rejected badge leaves no gap to notice.
    """
    public = sorted(
        (held for held in badges if held.badge.is_public), key=lambda held: held.position
    )
    hashtags = [
        {
            "type": "Hashtag",
            "href": urls.badge_page(held.badge.slug),
            "name": f"#{held.badge.hashtag}",
        }
        for held in public
        if held.featured
    ]
    extension = {
        "fedipoly:badges": [
            {
                "type": "fedipoly:Badge",
                "href": urls.badge_page(held.badge.slug),
                "name": held.badge.display_name,
                "fedipoly:slug": held.badge.slug,
                "fedipoly:hashtag": held.badge.hashtag,
                "fedipoly:color": held.badge.color,
                "fedipoly:icon": held.badge.icon,
                "fedipoly:featured": held.featured,
                "fedipoly:position": index,
            }
            for index, held in enumerate(public)
        ]
    }
    return hashtags, extension


def person(
    account: Account,
    urls: Urls,
    profile: Profile | None = None,
    badges: Sequence[MemberBadge] = (),
) -> JsonObject:
    """The member's actor. Without a profile it has an empty summary and no fields."""
    username = account.username
    profile = profile or Profile(account_id=account.id)
    hashtags, extension = badge_tags(badges, urls)
    return {
        "@context": ACTOR_CONTEXT,
        "id": urls.actor(username),
        "type": "Person",
        "preferredUsername": username,
        "name": account.display_name,
        "summary": profile.bio_html,
        "url": urls.profile(username),
        "inbox": urls.inbox(username),
        "outbox": urls.outbox(username),
        "followers": urls.followers(username),
        "following": urls.following(username),
        "featured": urls.featured(username),
        "featuredTags": urls.featured_tags(username),
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": account.manually_approves_followers,
        "discoverable": profile.discoverable,
        "indexable": False,
        "published": account.created_at.strftime("%Y-%m-%dT00:00:00Z"),
        "publicKey": {
            "id": urls.key_id(username),
            "owner": urls.actor(username),
            "publicKeyPem": account.public_key_pem,
        },
        "attachment": profile_fields(profile),
        "tag": hashtags,
        "fedipoly:headline": profile.headline,
        **extension,
    }


def instance_actor(urls: Urls, public_key_pem: str) -> JsonObject:
    """The server itself; it signs our fetches (Mastodon: instance_actor_serializer.rb)."""
    return {
        "@context": ACTOR_CONTEXT,
        "id": urls.instance_actor,
        "type": "Application",
        # Mastodon uses the domain; it cannot collide with a member (no dots in usernames).
        "preferredUsername": urls.domain,
        "name": urls.domain,
        "url": f"{urls.base}/",
        "inbox": f"{urls.instance_actor}/inbox",
        "outbox": f"{urls.instance_actor}/outbox",
        "endpoints": {"sharedInbox": urls.shared_inbox},
        "manuallyApprovesFollowers": True,
        "publicKey": {
            "id": urls.instance_key_id,
            "owner": urls.instance_actor,
            "publicKeyPem": public_key_pem,
        },
    }


def addressing(post: Post, author: Account, urls: Urls) -> tuple[list[str], list[str]]:
    """to/cc as Mastodon's StatusParser#visibility reads them (tag_manager.rb)."""
    followers = urls.followers(author.username)
    mentioned = [uri for uri in post.audience if uri not in (PUBLIC, followers)]
    if post.visibility is Visibility.PUBLIC:
        return [PUBLIC], [followers, *mentioned]
    if post.visibility is Visibility.FOLLOWERS:
        return [followers], mentioned
    return mentioned, []


def _handle_of(uri: str, urls: Urls) -> str:
    """name@host for a Mention when the caller knows no better (Mastodon matches on href)."""
    username = urls.local_username(uri)
    if username is not None:
        return f"{username}@{urls.domain}"
    parts = urlsplit(uri)
    return f"{parts.path.rstrip('/').rsplit('/', 1)[-1]}@{parts.netloc}"


def activity_hashtag(phrase: str) -> str | None:
    """An activity tag's Hashtag name: CamelCase of its phrase ("Wrote some code" ->
    WroteSomeCode); None when the phrase has no letter (Mastodon would not link it)."""
    return badge_hashtag(phrase, "") if any(char.isalpha() for char in phrase) else None


def note_tags(
    post: Post, urls: Urls, badges: Sequence[Badge], mention_names: Mapping[str, str]
) -> list[JsonObject]:
    """Mentions, then a Hashtag per approved badge, per activity tag and per written #tag.

    Badge hashtags link the badge page; the others link {base}/tags/{name}. A badge that is
    not approved never leaves the server, so it gets no Hashtag here.
    """
    tags: list[JsonObject] = [
        {
            "type": "Mention",
            "href": uri,
            "name": f"@{mention_names.get(uri) or _handle_of(uri, urls)}",
        }
        for uri in post.mentions
    ]
    seen: set[str] = set()

    def hashtag(name: str, href: str) -> None:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            tags.append({"type": "Hashtag", "href": href, "name": f"#{name}"})

    public = {badge.slug: badge for badge in badges if badge.is_public}
    for slug in post.badges:
        if slug in public:
            hashtag(public[slug].hashtag, urls.badge_page(slug))
    for activity in post.activity_tags:
        name = activity_hashtag(activity.phrase)
        if name:
            hashtag(name, urls.tag(name))
    for name in post.hashtags:
        hashtag(name, urls.tag(name))
    return tags


def note_attachments(post: Post) -> list[JsonObject]:
    documents: list[JsonObject] = []
    for item in post.attachments[:4]:  # Mastodon keeps at most 4 (MEDIA_ATTACHMENTS_LIMIT)
        document: JsonObject = {
            "type": "Document",
            "mediaType": item.media_type,
            "url": item.url,
            "name": item.alt or None,
        }
        if item.width and item.height:
            document |= {"width": item.width, "height": item.height}
        documents.append(document)
    return documents


def note_extension(post: Post, urls: Urls, badges: Sequence[Badge]) -> JsonObject:
    """Fedipoly's own properties: activity tags with their badge, and the "happened on" date."""
    public = {badge.slug for badge in badges if badge.is_public}
    extension: JsonObject = {}
    if post.activity_tags:
        extension["fedipoly:activityTags"] = [
            {"type": "fedipoly:ActivityTag", "fedipoly:phrase": activity.phrase}
            | (
                {
                    "fedipoly:badge": activity.badge_slug,
                    "href": urls.badge_page(activity.badge_slug),
                }
                if activity.badge_slug in public
                else {}
            )
            for activity in post.activity_tags
        ]
    if post.happened_on is not None:
        extension["fedipoly:happenedOn"] = post.happened_on.isoformat()
    return extension


def note(
    post: Post,
    author: Account,
    urls: Urls,
    *,
    badges: Sequence[Badge] = (),
    mention_names: Mapping[str, str] | None = None,
) -> JsonObject:
    """The Note; `badges` are the post's badges (for their Hashtags), `mention_names` the
    handles (name@host) of its mentioned actors."""
    to, cc = addressing(post, author, urls)
    document: JsonObject = {
        "id": post.uri,
        "type": "Note",
        "summary": None,
        "inReplyTo": post.in_reply_to,
        "published": iso(post.published),
        "url": post.url,
        "attributedTo": urls.actor(author.username),
        "to": to,
        "cc": cc,
        "sensitive": False,
        "content": post.content_html,
        "contentMap": {"en": post.content_html},
        "attachment": note_attachments(post),
        "tag": note_tags(post, urls, badges, mention_names or {}),
        **note_extension(post, urls, badges),
    }
    if post.updated is not None:
        document["updated"] = iso(post.updated)
    return document


def with_context(document: JsonObject, context: list[Any] | str = NOTE_CONTEXT) -> JsonObject:
    return {"@context": context, **document}


def create_note(
    post: Post,
    author: Account,
    urls: Urls,
    *,
    badges: Sequence[Badge] = (),
    mention_names: Mapping[str, str] | None = None,
) -> JsonObject:
    body = note(post, author, urls, badges=badges, mention_names=mention_names)
    return with_context(
        {
            "id": urls.note_activity(author.username, post.id),
            "type": "Create",
            "actor": urls.actor(author.username),
            "published": body["published"],
            "to": body["to"],
            "cc": body["cc"],
            "object": body,
        }
    )


def update_note(
    post: Post,
    author: Account,
    urls: Urls,
    update_id: str,
    *,
    badges: Sequence[Badge] = (),
    mention_names: Mapping[str, str] | None = None,
) -> JsonObject:
    body = note(post, author, urls, badges=badges, mention_names=mention_names)
    return with_context(
        {
            "id": update_id,
            "type": "Update",
            "actor": urls.actor(author.username),
            "published": body.get("updated", body["published"]),
            "to": body["to"],
            "cc": body["cc"],
            "object": body,
        }
    )


def delete_note(post: Post, author: Account, urls: Urls, delete_id: str) -> JsonObject:
    to, cc = addressing(post, author, urls)
    return with_context(
        {
            "id": delete_id,
            "type": "Delete",
            "actor": urls.actor(author.username),
            "to": to,
            "cc": cc,
            "object": {"id": post.uri, "type": "Tombstone"},
        },
        AS_CONTEXT,
    )


def tombstone(uri: str, deleted_at: datetime | None) -> JsonObject:
    document: JsonObject = {"@context": AS_CONTEXT, "id": uri, "type": "Tombstone"}
    if deleted_at is not None:
        document["deleted"] = iso(deleted_at)
    return document


def follow(activity_id: str, actor: str, target: str) -> JsonObject:
    return {
        "@context": AS_CONTEXT,
        "id": activity_id,
        "type": "Follow",
        "actor": actor,
        "object": target,
    }


def answer_follow(
    kind: str, activity_id: str, actor: str, follow_id: str, follower: str
) -> JsonObject:
    """Accept or Reject embedding the whole Follow (Mastodon: accept_follow_serializer.rb)."""
    return {
        "@context": AS_CONTEXT,
        "id": activity_id,
        "type": kind,
        "actor": actor,
        "object": {"id": follow_id, "type": "Follow", "actor": follower, "object": actor},
    }


def undo(activity_id: str, actor: str, undone: JsonObject) -> JsonObject:
    inner = {key: value for key, value in undone.items() if key != "@context"}
    return {
        "@context": AS_CONTEXT,
        "id": activity_id,
        "type": "Undo",
        "actor": actor,
        "object": inner,
    }


def update_actor(actor_document: JsonObject, update_id: str) -> JsonObject:
    inner = {key: value for key, value in actor_document.items() if key != "@context"}
    return {
        "@context": actor_document.get("@context", AS_CONTEXT),
        "id": update_id,
        "type": "Update",
        "actor": actor_document["id"],
        "to": [PUBLIC],
        "object": inner,
    }


def delete_actor(actor_uri: str) -> JsonObject:
    return {
        "@context": [AS_CONTEXT, SECURITY_CONTEXT],
        "id": f"{actor_uri}#delete",
        "type": "Delete",
        "actor": actor_uri,
        "to": [PUBLIC],
        "object": actor_uri,
    }


def ordered_collection(collection_id: str, total: int, first: str | None) -> JsonObject:
    document: JsonObject = {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first is not None:
        document["first"] = first
    return document


def ordered_page(
    page_id: str, collection_id: str, items: list[Any], next_page: str | None
) -> JsonObject:
    document: JsonObject = {
        "@context": AS_CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if next_page is not None:
        document["next"] = next_page
    return document
