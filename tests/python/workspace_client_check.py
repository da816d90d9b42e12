"""Drives a fully booted molecule workspace with the official Python A2A SDK (a2a-sdk 1.x).

Usage: python workspace_client_check.py <base-url>

The workspace runs the echo adapter (tests/guests/echo-adapter): `hello` answers with an
artifact `echo: hello`, `wait` reports WORKING every 20 ms until canceled, `history` answers
with the texts of the context's earlier messages. Each check prints one `OK <name> ...` line;
the first failure raises with what was expected, and `ALL OK` is printed at the end. The Rust
test (tests/python_sdk.rs) boots the workspace and asserts on these lines.
"""

import asyncio
import sys
import uuid

from a2a.client import ClientConfig, ClientFactory, create_client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError

# Upper bound for any single streamed exchange, so a hang fails instead of blocking the test.
STREAM_TIMEOUT = 20.0


def msg(text: str, context_id: str = "") -> Message:
    m = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if context_id:
        m.context_id = context_id
    return m


def expect(cond: bool, what: str, got) -> None:
    """Raises naming what was expected and what came back."""
    if not cond:
        raise AssertionError(f"expected {what}; got:\n{got}")


def kinds(events) -> list[str]:
    return [e.WhichOneof("payload") for e in events]


def squeeze(names: list[str]) -> str:
    """`a,b,b,b,c` → `a,b,c`: runs of one kind collapsed (WORKING ticks vary in number)."""
    out: list[str] = []
    for n in names:
        if not out or out[-1] != n:
            out.append(n)
    return ",".join(out)


async def collect(aiter) -> list:
    async def go():
        return [e async for e in aiter]

    return await asyncio.wait_for(go(), STREAM_TIMEOUT)


def state(s: int) -> str:
    return TaskState.Name(s)


def event_state(e) -> int:
    """The task state an event carries (task or status update), else UNSPECIFIED."""
    if e.HasField("task"):
        return e.task.status.state
    if e.HasField("status_update"):
        return e.status_update.status.state
    return TaskState.TASK_STATE_UNSPECIFIED


def artifact_text(task) -> str:
    return "".join(p.text for a in task.artifacts for p in a.parts)


async def send_blocking(client, text: str, context_id: str = ""):
    events = await collect(client.send_message(SendMessageRequest(message=msg(text, context_id))))
    expect(kinds(events) == ["task"], f"one task event for `{text}`", events)
    return events[0].task


async def start_waiting(client):
    """Starts a `wait` task with return_immediately; returns its id."""
    req = SendMessageRequest(message=msg("wait"))
    req.configuration.return_immediately = True
    events = await collect(client.send_message(req))
    expect(kinds(events) == ["task"], "one task event for return_immediately", events)
    task = events[0].task
    live = (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
    expect(task.status.state in live, "a SUBMITTED or WORKING task", task)
    return task.id


async def check_send(blocking):
    task = await send_blocking(blocking, "hello")
    expect(task.status.state == TaskState.TASK_STATE_COMPLETED, "a COMPLETED task", task)
    expect(len(task.artifacts) == 1, "one artifact", task)
    expect(task.artifacts[0].name == "answer", "the artifact named `answer`", task.artifacts)
    text = artifact_text(task)
    expect(text == "echo: hello", "artifact text `echo: hello`", task)
    print(f"OK send {state(task.status.state)} {text}")
    return task


async def check_stream(streaming):
    events = await collect(streaming.send_message(SendMessageRequest(message=msg("stream me"))))
    expect(events and events[0].HasField("task"), "the task as the first event", events)
    expect(
        event_state(events[-1]) == TaskState.TASK_STATE_COMPLETED,
        "a final COMPLETED status",
        events[-1],
    )
    arts = [e.artifact_update for e in events if e.HasField("artifact_update")]
    text = "".join(p.text for a in arts for p in a.artifact.parts)
    expect(text == "echo: stream me", "artifact updates spelling `echo: stream me`", events)
    ids = {e.task.id for e in events if e.HasField("task")}
    ids |= {e.status_update.task_id for e in events if e.HasField("status_update")}
    ids |= {a.task_id for a in arts}
    expect(len(ids) == 1, "every event for the same task", ids)
    print(f"OK stream {squeeze(kinds(events))} {state(event_state(events[-1]))}")
    return ids.pop()


async def check_get(blocking, task):
    full = await blocking.get_task(GetTaskRequest(id=task.id))
    expect(full.id == task.id, "the same task", full)
    expect(len(full.history) >= 1, "at least the user message in history", full)
    first = full.history[0]
    expect(
        first.role == Role.ROLE_USER and first.parts[0].text == "hello",
        "the user's `hello` first in history",
        full.history,
    )
    expect(artifact_text(full) == "echo: hello", "the stored artifact", full)
    one = await blocking.get_task(GetTaskRequest(id=task.id, history_length=1))
    expect(len(one.history) == 1, "history_length=1 → one message", one)
    expect(one.history[0] == full.history[-1], "the most recent message", one.history)
    none = await blocking.get_task(GetTaskRequest(id=task.id, history_length=0))
    expect(len(none.history) == 0, "history_length=0 → no history", none)
    print(f"OK get {state(one.status.state)} history=1 full={len(full.history)}")


async def check_list(blocking, known: set[str]):
    seen: list[str] = []
    token = ""
    total = None
    for _ in range(100):
        page = await blocking.list_tasks(ListTasksRequest(page_size=1, page_token=token))
        expect(len(page.tasks) <= 1, "at most page_size=1 tasks per page", page)
        if total is None:
            total = page.total_size
            expect(len(page.tasks) == 1 and page.next_page_token, "a page and a token", page)
        expect(page.total_size == total, f"total_size steady at {total}", page)
        seen.extend(t.id for t in page.tasks)
        token = page.next_page_token
        if not token:
            break
    expect(len(seen) == len(set(seen)), "no task on two pages", seen)
    expect(len(seen) == total, f"total_size={total} tasks over all pages", seen)
    expect(known <= set(seen), f"the tasks created so far ({sorted(known)})", seen)
    print(f"OK list pages={len(seen)} total={total} more=True")


async def check_cancel(blocking):
    waiting = await start_waiting(blocking)
    canceled = await blocking.cancel_task(CancelTaskRequest(id=waiting))
    expect(canceled.status.state == TaskState.TASK_STATE_CANCELED, "a CANCELED task", canceled)
    await asyncio.sleep(0.2)
    again = await blocking.get_task(GetTaskRequest(id=waiting))
    expect(again.status.state == TaskState.TASK_STATE_CANCELED, "still CANCELED later", again)
    try:
        await blocking.cancel_task(CancelTaskRequest(id=waiting))
        raise AssertionError("expected TaskNotCancelableError canceling a CANCELED task")
    except TaskNotCancelableError:
        pass
    print(f"OK cancel {state(canceled.status.state)}")


async def check_subscribe(blocking, streaming):
    waiting = await start_waiting(blocking)
    first = asyncio.Event()
    events: list = []

    async def follow():
        async for e in streaming.subscribe(SubscribeToTaskRequest(id=waiting)):
            events.append(e)
            first.set()

    sub = asyncio.create_task(asyncio.wait_for(follow(), STREAM_TIMEOUT))
    await asyncio.wait_for(first.wait(), STREAM_TIMEOUT)
    await asyncio.sleep(0.1)  # a few WORKING ticks reach the subscriber
    canceled = await blocking.cancel_task(CancelTaskRequest(id=waiting))
    expect(canceled.status.state == TaskState.TASK_STATE_CANCELED, "a CANCELED task", canceled)
    await sub
    expect(events[0].HasField("task"), "the task as the first event", events[0])
    expect(events[0].task.id == waiting, "the subscribed task", events[0])
    expect(
        event_state(events[-1]) == TaskState.TASK_STATE_CANCELED,
        "the subscription to end with a CANCELED status",
        events[-1],
    )
    updates = [event_state(e) for e in events[1:]]
    expect(
        all(e.HasField("status_update") for e in events[1:]),
        "only status updates after the task",
        events,
    )
    expect(
        all(s == TaskState.TASK_STATE_WORKING for s in updates[:-1]),
        "WORKING updates before the final one",
        updates,
    )
    ticks = len(updates) - 1
    print(f"OK subscribe {squeeze(kinds(events))} {state(updates[-1])} working={ticks}")


async def check_multiturn(blocking):
    # The server makes the context up; the second message names it.
    first = await send_blocking(blocking, "hello")
    expect(first.context_id, "a context id on the task", first)
    second = await send_blocking(blocking, "history", first.context_id)
    expect(second.context_id == first.context_id, "the same context", second)
    expect(second.id != first.id, "a new task for the second message", second)
    text = artifact_text(second)
    expect("hello" in text, "the first message (`hello`) in the second one's history", second)
    print(f"OK multiturn {text}")
    # The client makes the context up from the first message on.
    ctx = str(uuid.uuid4())
    one = await send_blocking(blocking, "remember ctx", ctx)
    expect(one.context_id == ctx, f"the client's context id {ctx}", one)
    two = await send_blocking(blocking, "history", ctx)
    text = artifact_text(two)
    expect("remember ctx" in text, "`remember ctx` in the second one's history", two)
    print(f"OK multiturn-client-context {text}")


async def check_not_found(blocking):
    try:
        await blocking.get_task(GetTaskRequest(id="no-such-task"))
        raise AssertionError("expected TaskNotFoundError for an unknown task")
    except TaskNotFoundError:
        print("OK notfound")


async def check_rest(url):
    rest = await create_client(
        url, ClientConfig(streaming=False, supported_protocol_bindings=["HTTP+JSON"])
    )
    task = await send_blocking(rest, "over rest")
    expect(task.status.state == TaskState.TASK_STATE_COMPLETED, "a COMPLETED task", task)
    expect(artifact_text(task) == "echo: over rest", "artifact `echo: over rest`", task)
    got = await rest.get_task(GetTaskRequest(id=task.id))
    expect(got.id == task.id and artifact_text(got) == "echo: over rest", "the same task", got)
    print(f"OK rest {state(got.status.state)} {artifact_text(got)}")
    return rest


async def check_v03(blocking):
    resolved = blocking._card  # the card the factory resolved
    legacy = type(resolved)()
    legacy.CopyFrom(resolved)
    keep = [i for i in legacy.supported_interfaces if i.protocol_version == "0.3"]
    expect(keep, "a protocol_version 0.3 interface in the card", resolved)
    del legacy.supported_interfaces[:]
    legacy.supported_interfaces.extend(keep)
    v03 = ClientFactory(ClientConfig(streaming=True)).create(legacy)
    events = await collect(v03.send_message(SendMessageRequest(message=msg("legacy"))))
    st = event_state(events[-1])
    expect(st == TaskState.TASK_STATE_COMPLETED, "the 0.3 stream to end COMPLETED", events)
    arts = [e.artifact_update for e in events if e.HasField("artifact_update")]
    text = "".join(p.text for a in arts for p in a.artifact.parts)
    expect(text == "echo: legacy", "artifact updates spelling `echo: legacy`", events)
    print(f"OK v03 {state(st)} {text}")
    return v03


async def main(url: str) -> None:
    blocking = await create_client(url, ClientConfig(streaming=False))
    streaming = await create_client(url, ClientConfig(streaming=True))
    clients = [blocking, streaming]
    try:
        sent = await check_send(blocking)
        streamed = await check_stream(streaming)
        await check_get(blocking, sent)
        await check_list(blocking, {sent.id, streamed})
        await check_cancel(blocking)
        await check_subscribe(blocking, streaming)
        await check_multiturn(blocking)
        await check_not_found(blocking)
        clients.append(await check_rest(url))
        clients.append(await check_v03(blocking))
    finally:
        for c in clients:
            await c.close()
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
