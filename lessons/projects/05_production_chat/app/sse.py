# Shared copy: the same code in projects 04, 05, 07 (tests/test_copies.py checks it).
"""Server-Sent Events on the wire.

An SSE stream is UTF-8 text, `Content-Type: text/event-stream`, made of events separated by
a blank line. Each event is a few `field: value` lines; this API uses two fields:

    event: token
    data: {"type": "token", "content": "Hel"}
    <blank line>

`event:` names the kind of event (a browser's EventSource dispatches on it), `data:` carries
the payload, here always one line of JSON. A line starting with `:` is a comment: clients
ignore it (servers send one now and then to keep an idle connection open).
"""

import json
from typing import Any

# Response headers for a stream: the media type, no caching (every response is new),
# and no buffering by a reverse proxy such as nginx (it would hold the tokens back).
SSE_MEDIA_TYPE = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(data: dict[str, Any], event: str | None = None) -> str:
    """One SSE event: an optional `event:` line, one `data:` line of JSON, a blank line."""
    # json.dumps escapes newlines inside strings, so the JSON is always one line: a raw
    # newline in a data line would end the line (and a blank line, the event).
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"
