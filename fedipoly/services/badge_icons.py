"""The avatar of a badge actor: a PNG in the badge's colour with its initial.

A badge's own icon is a short text symbol (an emoji, say), which the fediverse cannot show as
an avatar: Mastodon downloads `icon.url` and keeps only raster images (its avatar attachment
accepts JPEG, PNG, GIF and WebP, not SVG or text). Without an icon a followed badge shows the
default avatar and every badge looks alike in timelines, so each gets one drawn from what it
has: its colour and the first letter of its name.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from fedipoly.models import Badge

ICON_SIZE = 256
ICON_MEDIA_TYPE = "image/png"
FALLBACK_COLOR = "#555555"


def _initial(display_name: str) -> str:
    return next((char.upper() for char in display_name if char.isalnum()), "#")


def _is_hex_color(color: str) -> bool:
    return (
        len(color) == 7
        and color.startswith("#")
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    )


def _text_color(background: str) -> str:
    """Dark text on light colours, white on dark (relative luminance, WCAG's formula)."""
    red, green, blue = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return "#111111" if luminance > 0.4 else "#ffffff"


def _draw(color: str, initial: str) -> bytes:
    image = Image.new("RGB", (ICON_SIZE, ICON_SIZE), color)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=ICON_SIZE * 9 // 16)
    draw.text(
        (ICON_SIZE / 2, ICON_SIZE / 2), initial, fill=_text_color(color), font=font, anchor="mm"
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def badge_icon_png(badge: Badge) -> bytes:
    """The badge actor's avatar (a few milliseconds to draw; served with a long cache time)."""
    color = badge.color if _is_hex_color(badge.color) else FALLBACK_COLOR
    return _draw(color.lower(), _initial(badge.display_name))
