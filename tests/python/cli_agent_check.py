"""Drives a `runtime: cli` workspace with the official Python A2A SDK (a2a-sdk 1.x).

Usage: python cli_agent_check.py <base-url> <go-dir>

The workspace's granted program (tests/cli_agent_a2a.rs writes it) reads the task's text on
stdin: `fail` exits 3; any other text prints `chunk one: <text>`, waits for the file
`<go-dir>/go-<text>` and prints `chunk two`. The streaming check makes that file only once the
first chunk arrived, so it passes only if stdout is streamed while the program runs. Each
check prints one `OK <name> ...` line, then `ALL OK`.
"""

import asyncio
import os
import sys
import uuid

from a2a.client import ClientConfig, create_client
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)

TIMEOUT = 20.0


def msg(text: str) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])


def expect(cond: bool, what: str, got) -> None:
    if not cond:
        raise AssertionError(f"expected {what}; got:\n{got}")


async def check_stream(streaming, go_dir: str) -> None:
    events = []

    async def go():
        async for e in streaming.send_message(SendMessageRequest(message=msg("s1"))):
            events.append(e)
            if e.HasField("artifact_update"):
                text = "".join(p.text for p in e.artifact_update.artifact.parts)
                if "chunk one: s1" in text:
                    open(os.path.join(go_dir, "go-s1"), "w").close()

    await asyncio.wait_for(go(), TIMEOUT)
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update")]
    expect(len(chunks) >= 2, "at least two artifact chunks", events)
    expect(not chunks[0].append and all(c.append for c in chunks[1:]), "append after the first", chunks)
    expect(chunks[-1].last_chunk, "the last chunk marked last_chunk", chunks[-1])
    ids = {c.artifact.artifact_id for c in chunks}
    expect(ids == {"output"}, "one artifact `output`", ids)
    text = "".join(p.text for c in chunks for p in c.artifact.parts)
    expect(text == "chunk one: s1\nchunk two\n", "the whole stdout", text)
    last = events[-1]
    expect(last.HasField("status_update"), "a final status update", last)
    state = TaskState.Name(last.status_update.status.state)
    expect(state == "TASK_STATE_COMPLETED", "COMPLETED", last)
    print(f"OK stream chunks={len(chunks)} {state}")


async def check_fail(blocking) -> None:
    async def go():
        return [e async for e in blocking.send_message(SendMessageRequest(message=msg("fail")))]

    events = await asyncio.wait_for(go(), TIMEOUT)
    task = events[-1].task
    state = TaskState.Name(task.status.state)
    reason = "".join(p.text for p in task.status.message.parts)
    expect(state == "TASK_STATE_FAILED", "FAILED", task)
    expect(reason.endswith("exited with code 3"), "the exit code in the message", reason)
    print(f"OK fail {state} {reason.split('` ')[-1]}")


async def check_cancel(blocking) -> None:
    req = SendMessageRequest(message=msg("hang"))
    req.configuration.return_immediately = True

    async def go():
        return [e async for e in blocking.send_message(req)]

    task = (await asyncio.wait_for(go(), TIMEOUT))[-1].task
    canceled = await blocking.cancel_task(CancelTaskRequest(id=task.id))
    state = TaskState.Name(canceled.status.state)
    expect(state == "TASK_STATE_CANCELED", "CANCELED", canceled)
    print(f"OK cancel {state}")


async def start(blocking, text: str):
    req = SendMessageRequest(message=msg(text))
    req.configuration.return_immediately = True

    async def go():
        return [e async for e in blocking.send_message(req)]

    return (await asyncio.wait_for(go(), TIMEOUT))[-1].task.id


async def wait_state(blocking, task_id: str, want: str):
    """Polls the task until it is in `want` (bounded by TIMEOUT)."""
    for _ in range(int(TIMEOUT / 0.02)):
        task = await blocking.get_task(GetTaskRequest(id=task_id))
        if TaskState.Name(task.status.state) == want:
            return task
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} never reached {want}: {task}")


async def check_slots(blocking, go_dir: str) -> None:
    """With max_concurrent: 1, a second task waits SUBMITTED while the first runs, and is
    canceled there without its program ever starting."""
    first = await start(blocking, "a1")
    await wait_state(blocking, first, "TASK_STATE_WORKING")
    second = await start(blocking, "b1")
    waiting = await blocking.get_task(GetTaskRequest(id=second))
    expect(TaskState.Name(waiting.status.state) == "TASK_STATE_SUBMITTED", "SUBMITTED", waiting)
    canceled = await blocking.cancel_task(CancelTaskRequest(id=second))
    expect(TaskState.Name(canceled.status.state) == "TASK_STATE_CANCELED", "CANCELED", canceled)
    open(os.path.join(go_dir, "go-a1"), "w").close()
    done = await wait_state(blocking, first, "TASK_STATE_COMPLETED")
    b = await blocking.get_task(GetTaskRequest(id=second))
    expect(len(b.artifacts) == 0, "no output from the canceled waiting task", b)
    text = "".join(p.text for a in done.artifacts for p in a.parts)
    expect(text == "chunk one: a1\nchunk two\n", "the first task's output", done)
    print("OK slots SUBMITTED TASK_STATE_CANCELED TASK_STATE_COMPLETED")


async def main(url: str, go_dir: str) -> None:
    blocking = await create_client(url, ClientConfig(streaming=False))
    streaming = await create_client(url, ClientConfig(streaming=True))
    try:
        await check_stream(streaming, go_dir)
        await check_fail(blocking)
        await check_cancel(blocking)
        await check_slots(blocking, go_dir)
    finally:
        await blocking.close()
        await streaming.close()
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
