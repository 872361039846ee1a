"""The collaboration reasons every new instance starts its "open to" catalogue with.

Both adapters write them once, right after their migrations, then record `OPEN_TO_SEED_SETTING`
so that a reason an admin later removes is never brought back. The slugs are the same on every
Fedipoly instance, which is how a remote member's answers match ours in the Space Station.
"""

from __future__ import annotations

OPEN_TO_SEED_SETTING = "seed.open_to_reasons.v1"

# slug, label
DEFAULT_OPEN_TO_REASONS: tuple[tuple[str, str], ...] = (
    ("guest_lecture", "Guest lecture"),
    ("podcast_guest", "Podcast guest"),
    ("speaking", "Speaking"),
    ("mentoring", "Mentoring"),
    ("beta_testing", "Beta testing"),
    ("angel_investing", "Angel investing"),
    ("hiring", "Hiring"),
    ("freelance", "Freelance"),
    ("co_founding", "Co-founding"),
    ("open_source", "Open source collaboration"),
)
