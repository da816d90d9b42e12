"""Human approval driven with the official Python A2A SDK (a2a-sdk 1.x).

Usage: python approval_client_check.py <base-url> <bearer-secret>

The workspace runs the echo adapter (tests/guests/echo-adapter) with `approval: {tools:
[commit_memory]}`: `tool NAME JSON` makes the adapter call tool NAME, and a task resumed with a
human's decision answers `approval: <Decision> kind=… id=… text=… result=… error=…`. Each check
prints one `OK <name> ...` line; the first failure raises with what was expected, and `ALL OK`
is printed at the end. The Rust test (tests/approval.rs) boots the workspace, joined to the
fake platform, and asserts on these lines and on what the platform saw.
"""

import asyncio
import json
import sys
import uuid

import httpx
from a2a.client import ClientConfig, create_client
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, TaskState
from google.protobuf.json_format import MessageToDict

STREAM_TIMEOUT = 20.0
REQUEST = 'tool request_approval {"action":"deploy v2 to prod","reason":"release day"}'


def msg(text: str, task=None, metadata=None) -> Message:
    m = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if task is not None:
        m.task_id = task.id
        m.context_id = task.context_id
    if metadata is not None:
        m.metadata.update(metadata)
    return m


def expect(cond: bool, what: str, got) -> None:
    if not cond:
        raise AssertionError(f"expected {what}; got:\n{got}")


async def collect(aiter) -> list:
    async def go():
        return [e async for e in aiter]

    return await asyncio.wait_for(go(), STREAM_TIMEOUT)


async def send(client, message: Message):
    events = await collect(client.send_message(SendMessageRequest(message=message)))
    expect(len(events) == 1 and events[0].HasField("task"), "one task event", events)
    return events[0].task


def question(task) -> tuple[str, dict]:
    """The INPUT_REQUIRED status message's text and its `approval` data part."""
    expect(task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, "INPUT_REQUIRED", task)
    text = "".join(p.text for p in task.status.message.parts)
    data = [MessageToDict(p)["data"] for p in task.status.message.parts if p.HasField("data")]
    expect(len(data) == 1 and "approval" in data[0], "one approval data part", task.status)
    return text, data[0]["approval"]


def answer(task) -> str:
    expect(task.status.state == TaskState.TASK_STATE_COMPLETED, "COMPLETED", task)
    return "".join(p.text for a in task.artifacts for p in a.parts)


async def idle_gauges(http, url: str) -> str:
    """The gauges that say no guest instance runs while the task waits."""
    text = (await http.get(f"{url}/metrics")).text
    wanted = ("molecule_sandbox_calls_running ", "molecule_tasks_active ")
    lines = [line for line in text.splitlines() if line.startswith(wanted)]
    expect(len(lines) == 2 and all(line.endswith(" 0") for line in lines), "both gauges 0", lines)
    return ",".join(lines)


async def check_request_approved(client, http, url):
    task = await send(client, msg(REQUEST))
    text, asked = question(task)
    expect("Approval needed: deploy v2 to prod" in text and "release day" in text, "the question", text)
    gauges = await idle_gauges(http, url)
    done = answer(await send(client, msg("approve", task)))
    want = f"approval: Approved kind=request id={asked['id']} text=approve"
    expect(done.startswith(want), want, done)
    print(f"OK request-approved {asked['id']} {gauges}")


async def check_request_denied_streamed(streaming, client):
    events = await collect(streaming.send_message(SendMessageRequest(message=msg(REQUEST))))
    updates = [e.status_update for e in events if e.HasField("status_update")]
    last = updates[-1] if updates else None
    expect(
        last is not None and last.status.state == TaskState.TASK_STATE_INPUT_REQUIRED,
        "a final INPUT_REQUIRED status update",
        events,
    )
    said = "".join(p.text for p in last.status.message.parts)
    expect("Approval needed" in said, "the question in the status update's message", last)
    task = events[0].task
    done = answer(await send(client, msg("deny", task)))
    expect(done.startswith("approval: Denied kind=request"), "a denial", done)
    task = await send(client, msg(REQUEST))
    done = answer(await send(client, msg("only on staging, please", task)))
    expect("approval: Answered" in done and "text=only on staging, please" in done, "words", done)
    print("OK request-denied-and-answered")


async def check_held_call_approved(client, http, url):
    task = await send(client, msg('tool commit_memory {"content":"gated fact"}'))
    text, asked = question(task)
    pid = asked["id"]
    expect("`commit_memory`" in text and "gated fact" in text and pid in text, "the held call", text)
    expect(asked["kind"] == "tool" and asked["tool"] == "commit_memory", "kind tool", asked)
    await idle_gauges(http, url)
    # A bare "approve" does not approve a held call; nor does an answer naming another id.
    again = await send(client, msg("approve", task))
    text, still = question(again)
    expect(still["id"] == pid and "only with its id" in text, "asked again", text)
    stale = {"approval": {"decision": "approved", "id": "000000000000"}}
    again = await send(client, msg("approve", task, metadata=stale))
    text, still = question(again)
    expect(still["id"] == pid and "not for the one waiting" in text, "a stale id refused", text)
    done = answer(await send(client, msg(f"approve {pid}", task)))
    expect(done.startswith(f"approval: Approved kind=tool id={pid}"), "approved", done)
    expect('"scope":"LOCAL"' in done, "the call's result in the decision", done)
    # A replayed approval finds nothing to approve: the task is finished.
    try:
        await send(client, msg(f"approve {pid}", task))
        raise AssertionError("a replayed approval was accepted")
    except AssertionError:
        raise
    except Exception as e:  # the server refuses a message to a terminal task
        refused = type(e).__name__
    print(f"OK held-approved {pid} replay={refused}")


async def check_held_call_denied(client):
    task = await send(client, msg('tool commit_memory {"content":"denied fact"}'))
    _, asked = question(task)
    done = answer(await send(client, msg(f"deny {asked['id']}", task)))
    expect(done.startswith("approval: Denied kind=tool") and "error=denied" in done, "denied", done)
    print("OK held-denied")


async def main(url: str, secret: str) -> None:
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    blocking = await create_client(url, ClientConfig(streaming=False, httpx_client=http))
    streaming = await create_client(url, ClientConfig(streaming=True, httpx_client=http))
    try:
        await check_request_approved(blocking, http, url)
        await check_request_denied_streamed(streaming, blocking)
        await check_held_call_approved(blocking, http, url)
        await check_held_call_denied(blocking)
    finally:
        for c in (blocking, streaming):
            await c.close()
        await http.aclose()
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
