"""A browser's User-Agent in words ("Firefox on Windows"), for the list of signed-in sessions. A pure rule:
the first matching entry of each ordered table wins (Edge and Opera also say "Chrome"; Chrome says "Safari")."""

from __future__ import annotations

BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"), ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"), ("HeadlessChrome/", "Chrome (headless)"),
    ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"),
    ("python-httpx/", "a Python program"), ("python-requests/", "a Python program"), ("testclient", "a test client"),
)
SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("CrOS", "ChromeOS"),
    ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"),
)


def describe(user_agent: str | None) -> str:
    """`user_agent` as people say it; "Unknown browser" when there is none or it says nothing we know."""
    agent = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in agent), None)
    system = next((name for marker, name in SYSTEMS if marker in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else "Unknown browser")
