"""Drives molecule-a2a's gRPC binding with the official Python A2A SDK client (a2a-sdk 1.x
with its `grpc` extra).

Usage: python a2a_grpc_check.py <base-url>

The agent card at <base-url> lists a `GRPC` interface; the client is configured to speak
gRPC only, so every call below goes over gRPC. Each check prints one `OK <name> ...` line; the
first failure raises, and `ALL OK` is printed at the end (tests/grpc_python.rs asserts on
these lines).
"""

import asyncio
import sys
import uuid

import grpc
from a2a.client import ClientConfig, create_client
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
    def config(streaming: bool) -> ClientConfig:
        return ClientConfig(
            streaming=streaming,
            supported_protocol_bindings=["GRPC"],
            grpc_channel_factory=grpc.aio.insecure_channel,
        )

    blocking = await create_client(url, config(False))
    streaming = await create_client(url, config(True))

    # send
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
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED, events[-1]

    # get with history_length
    got = await blocking.get_task(GetTaskRequest(id=task.id, history_length=1))
    assert len(got.history) == 1, got
    print(f"OK get {state(got.status.state)} history={len(got.history)}")

    # list, filtered by context
    page = await blocking.list_tasks(ListTasksRequest(context_id=task.context_id))
    assert [t.id for t in page.tasks] == [task.id], page
    print(f"OK list n={len(page.tasks)} total={page.total_size}")

    # cancel a running task
    req = SendMessageRequest(message=msg("gated cancel-me"))
    req.configuration.return_immediately = True
    events = await collect(blocking.send_message(req))
    canceled = await blocking.cancel_task(CancelTaskRequest(id=events[0].task.id))
    print(f"OK cancel {state(canceled.status.state)}")

    # subscribe to an interrupted (INPUT_REQUIRED) task: the snapshot arrives at once
    events = await collect(blocking.send_message(SendMessageRequest(message=msg("ask more"))))
    asked = events[0].task
    assert asked.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, asked
    sub = streaming.subscribe(SubscribeToTaskRequest(id=asked.id))
    first = await sub.__anext__()
    assert first.WhichOneof("payload") == "task", first
    print(f"OK subscribe {state(first.task.status.state)}")
    await sub.aclose()

    # an unknown task: NOT_FOUND with ErrorInfo TASK_NOT_FOUND becomes TaskNotFoundError
    try:
        await blocking.get_task(GetTaskRequest(id="no-such-task"))
    except TaskNotFoundError:
        print("OK notfound")
    else:
        raise AssertionError("no TaskNotFoundError")

    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
