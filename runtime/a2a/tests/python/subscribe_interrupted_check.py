"""The official Python A2A SDK (a2a-sdk 1.x) client subscribes to an INPUT_REQUIRED task and
follows it to COMPLETED, on JSON-RPC and on HTTP+JSON.

Usage: python subscribe_interrupted_check.py <base-url>

The server runs the echo executor of the Rust tests (`ask <x>` asks for input, the next message
completes the task). Prints one `OK <binding> <kinds> <last state>` line per binding, then
`ALL OK`; the first failure raises. tests/python_subscribe.rs asserts on these lines.
"""

import asyncio
import sys
import uuid

from a2a.client import ClientConfig, create_client
from a2a.types.a2a_pb2 import (
    Message,
    Part,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)


def msg(text: str, task_id: str = "") -> Message:
    m = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if task_id:
        m.task_id = task_id
    return m


async def check(url: str, binding: str) -> None:
    config = dict(streaming=True)
    if binding != "JSONRPC":
        config["supported_protocol_bindings"] = [binding]
    client = await create_client(url, ClientConfig(**config))
    blocking = await create_client(url, ClientConfig(streaming=False))
    first = [e async for e in blocking.send_message(SendMessageRequest(message=msg("ask name")))]
    task = first[0].task
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, task

    events = []
    snapshot = asyncio.Event()

    async def follow() -> None:
        async for e in client.subscribe(SubscribeToTaskRequest(id=task.id)):
            events.append(e)
            snapshot.set()

    follower = asyncio.create_task(follow())
    await asyncio.wait_for(snapshot.wait(), 10)
    # The stream stays open on the interrupted task; the follow-up message completes it.
    reply = [
        e
        async for e in blocking.send_message(
            SendMessageRequest(message=msg("Ada", task_id=task.id))
        )
    ]
    assert reply[0].task.status.state == TaskState.TASK_STATE_COMPLETED, reply
    await asyncio.wait_for(follower, 10)
    kinds = [e.WhichOneof("payload") for e in events]
    assert kinds[0] == "task", kinds
    assert events[0].task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, events[0]
    last = events[-1].status_update.status.state
    assert last == TaskState.TASK_STATE_COMPLETED, events[-1]
    print(f"OK {binding} {','.join(kinds)} {TaskState.Name(last)}")


async def main(url: str) -> None:
    await check(url, "JSONRPC")
    await check(url, "HTTP+JSON")
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
