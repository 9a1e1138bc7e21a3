"""Server-Sent Events, parsed from the lines of a streamed response (the WHATWG rules the
server's streams need: ``event``, ``data`` over several lines, ``id``, comments, blank-line
dispatch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional


@dataclass
class ServerEvent:
    event: str
    data: str
    id: Optional[str]


def parse(lines: Iterable[str], keepalive=None) -> Iterator[ServerEvent]:
    """Events from ``lines`` (without their line ends). ``keepalive`` is called on every comment
    line (the server's keep-alives), so a caller can check a deadline between events."""
    event, data, last_id = "", [], None
    for line in lines:
        if line == "":
            if data:
                yield ServerEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            if keepalive is not None:
                keepalive()
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
        # `retry` and unknown fields are ignored.
