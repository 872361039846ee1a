"""The default badge catalogue and activity tags every new instance starts with.

Both adapters write these once, right after their migrations, and then record the setting
`SEED_SETTING` so that a badge an operator later removes or renames is never brought back.
Writing is idempotent (insert-if-absent by slug and by phrase), so two processes opening a
fresh database at once end with one copy. To seed more on existing instances, add a new
setting name and a new list; never change what a shipped seed wrote.
"""

from __future__ import annotations

SEED_SETTING = "seed.badge_catalogue.v1"

# slug, display name, colour, icon
DEFAULT_BADGES: tuple[tuple[str, str, str, str], ...] = (
    ("programming", "Programming", "#4b5563", "💻"),
    ("python", "Python", "#3776ab", "🐍"),
    ("javascript", "JavaScript", "#b59a00", "JS"),
    ("open_source", "Open source", "#2f855a", "🌱"),
    ("writing", "Writing", "#6b46c1", "✍️"),
    ("podcasting", "Podcasting", "#b83280", "🎙️"),
    ("streaming", "Streaming", "#6441a5", "📺"),
    ("public_speaking", "Public speaking", "#c05621", "🎤"),
    ("teaching", "Teaching", "#2b6cb0", "🎓"),
    ("design", "Design", "#d53f8c", "🎨"),
    ("photography", "Photography", "#2d3748", "📷"),
    ("music", "Music", "#9b2c2c", "🎵"),
    ("chess", "Chess", "#1a202c", "♟️"),
)

# verb phrase, badge slug
DEFAULT_ACTIVITY_TAGS: tuple[tuple[str, str], ...] = (
    ("Wrote some code", "programming"),
    ("Shipped a release", "open_source"),
    ("Published a newsletter", "writing"),
    ("Recorded a podcast", "podcasting"),
    ("Streamed on Twitch", "streaming"),
    ("Gave a talk", "public_speaking"),
    ("Taught a class", "teaching"),
    ("Designed something", "design"),
    ("Took photos", "photography"),
    ("Made music", "music"),
    ("Played a tournament", "chess"),
)
