"""py-notes: notes in the workspace's long-term memory, and one page from a granted website.

Every tool is a plain function; its type hints are its input schema, its docstring the
description the model reads. Host capabilities come from `molecule_skill`: an ungranted one
raises `HostDenied`, which reaches the caller as `denied` with the text naming the grant.
"""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from molecule_skill import InvalidInput, http, memory, tool

import textutil

MAX_NOTE = 2000


@tool
def add_note(
    text: Annotated[str, "The note, up to 2000 characters."],
    scope: Annotated[Literal["local", "team", "global"], "Who may read it."] = "local",
) -> dict:
    """Stores a short note in the workspace's long-term memory and returns its id."""
    note = textutil.clean(text)
    if not note:
        raise InvalidInput("field `text`: must not be empty")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"field `text`: {len(note)} characters, at most {MAX_NOTE}")
    return {"id": memory.commit(note, scope), "scope": scope}


@tool
def find_notes(
    query: Annotated[str, "Words to look for."],
    limit: Annotated[int, "How many notes at most, 1 to 20."] = 5,
) -> dict:
    """Finds notes relevant to a query, best first."""
    if not 1 <= limit <= 20:
        raise InvalidInput("field `limit`: must be between 1 and 20")
    found = memory.search(query, limit=limit)
    return {"notes": [{"id": m["id"], "text": m["content"], "scope": m["scope"],
                       "created_at": m["created_at"]} for m in found]}


@tool
def fetch(
    url: Annotated[str, "An https:// URL on an origin the operator granted."],
    max_bytes: Annotated[int, "Most body bytes to return, 1 to 65536."] = 4096,
) -> dict:
    """Fetches one page or API response (GET) and returns its status, content type and the
    start of its body as text."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("field `url`: expected an https:// URL")
    if not 1 <= max_bytes <= 65536:
        raise InvalidInput("field `max_bytes`: must be between 1 and 65536")
    response = http.get(url, headers={"user-agent": "molecule-py-notes/0.1"})
    body = response.body[:max_bytes]
    return {
        "status": response.status,
        "content_type": response.header("content-type"),
        "body": body.decode("utf-8", errors="replace"),
        "truncated": len(response.body) > max_bytes,
    }
