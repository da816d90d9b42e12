"""Drives a molecule-a2a server with the official Python A2A SDK (a2a-sdk 1.x) client.

Usage: python a2a_client_check.py <base-url>

The server runs the echo executor from the Rust tests (tests/common/mod.rs). Each check prints
one `OK <name> ...` line; the first failure raises, and `ALL OK` is printed at the end. The
Rust test (tests/python_client.rs) asserts on these lines.
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
from a2a.utils.errors import TaskNotFoundError


def msg(text: str) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])


def kinds(events) -> list[str]:
    return [e.WhichOneof("payload") for e in events]


async def collect(aiter) -> list:
    return [e async for e in aiter]


def state(s: int) -> str:
    return TaskState.Name(s)


async def main(url: str) -> None:
    blocking = await create_client(url, ClientConfig(streaming=False))
    streaming = await create_client(url, ClientConfig(streaming=True))

    # send (blocking, non-streaming)
    events = await collect(blocking.send_message(SendMessageRequest(message=msg("hello"))))
    assert kinds(events) == ["task"], kinds(events)
    task = events[0].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task
    text = task.status.message.parts[0].text
    assert text == "echo: hello", text
    print(f"OK send {state(task.status.state)} {text}")

    # stream
    events = await collect(streaming.send_message(SendMessageRequest(message=msg("stream me"))))
    print("OK stream " + ",".join(kinds(events)))
    last = events[-1].status_update.status.state
    assert last == TaskState.TASK_STATE_COMPLETED, events[-1]

    # get with historyLength
    got = await blocking.get_task(GetTaskRequest(id=task.id, history_length=1))
    assert len(got.history) == 1, got
    print(f"OK get {state(got.status.state)} history={len(got.history)}")

    # list
    page = await blocking.list_tasks(ListTasksRequest(page_size=1))
    assert len(page.tasks) == 1 and page.next_page_token, page
    print(f"OK list n={len(page.tasks)} total={page.total_size} more={bool(page.next_page_token)}")

    # cancel a running task
    req = SendMessageRequest(message=msg("gated cancel-me"))
    req.configuration.return_immediately = True
    events = await collect(blocking.send_message(req))
    gated_id = events[0].task.id
    canceled = await blocking.cancel_task(CancelTaskRequest(id=gated_id))
    print(f"OK cancel {state(canceled.status.state)}")

    # resubscribe to a running task: the task first, then updates until completion
    req = SendMessageRequest(message=msg("sleep 1500"))
    req.configuration.return_immediately = True
    events = await collect(blocking.send_message(req))
    sleeper = events[0].task.id
    await asyncio.sleep(0.3)
    events = await collect(streaming.subscribe(SubscribeToTaskRequest(id=sleeper)))
    print("OK subscribe " + ",".join(kinds(events)))
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED, events[-1]

    # unknown task maps to the SDK's TaskNotFoundError
    try:
        await blocking.get_task(GetTaskRequest(id="no-such-task"))
        raise AssertionError("expected TaskNotFoundError")
    except TaskNotFoundError:
        print("OK notfound")

    # REST binding
    rest = await create_client(
        url, ClientConfig(streaming=False, supported_protocol_bindings=["HTTP+JSON"])
    )
    events = await collect(rest.send_message(SendMessageRequest(message=msg("over rest"))))
    print(f"OK rest {state(events[0].task.status.state)}")
    rest_got = await rest.get_task(GetTaskRequest(id=events[0].task.id))
    assert rest_got.id == events[0].task.id

    # 0.3 compatibility: the SDK's 0.3 JSON-RPC transport against the 0.3 interface
    resolved = blocking._card  # the card the factory resolved
    legacy = type(resolved)()
    legacy.CopyFrom(resolved)
    keep = [i for i in legacy.supported_interfaces if i.protocol_version == "0.3"]
    del legacy.supported_interfaces[:]
    legacy.supported_interfaces.extend(keep)
    v03 = ClientFactory(ClientConfig(streaming=True)).create(legacy)
    events = await collect(v03.send_message(SendMessageRequest(message=msg("legacy"))))
    final = events[-1]
    st = (
        final.task.status.state
        if final.HasField("task")
        else final.status_update.status.state
    )
    print(f"OK v03 {state(st)} events={len(events)}")
    assert st == TaskState.TASK_STATE_COMPLETED, events

    for c in (blocking, streaming, rest, v03):
        await c.close()
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
