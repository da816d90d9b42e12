"""Drives a workspace behind NAT through the platform's relay with the official Python A2A SDK
(a2a-sdk 1.x): the client knows only the platform's URL, never the workspace's own port.

Usage: python relay_client_check.py <relay-url> <caller-token> <caller-id>

<relay-url> is `{PLATFORM_URL}/workspaces/{id}/a2a`; the caller authenticates to the platform
as workspace <caller-id> with its bearer token. The card is built here (the platform does not
serve the peer's card at that URL). The workspace runs the echo adapter
(tests/guests/echo-adapter). Prints `OK send ...`, `OK stream ...` and `ALL OK`; the Rust test
(tests/nat_relay.rs) asserts on these lines.
"""

import asyncio
import sys
import uuid

import httpx
from a2a.client import ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskState,
)

# Upper bound for any single exchange, so a hang fails instead of blocking the test.
TIMEOUT = 20.0


def msg(text: str) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])


def expect(cond: bool, what: str, got) -> None:
    if not cond:
        raise AssertionError(f"expected {what}; got:\n{got}")


async def collect(aiter) -> list:
    async def go():
        return [e async for e in aiter]

    return await asyncio.wait_for(go(), TIMEOUT)


def client(url: str, http: httpx.AsyncClient, streaming: bool):
    card = AgentCard(
        name="relayed",
        description="a workspace behind NAT",
        version="1.0",
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=streaming),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
    )
    return ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create(card)


async def main(url: str, token: str, caller: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Workspace-ID": caller}
    async with httpx.AsyncClient(headers=headers, timeout=TIMEOUT) as http:
        blocking = client(url, http, streaming=False)
        events = await collect(blocking.send_message(SendMessageRequest(message=msg("hello"))))
        expect(len(events) == 1 and events[0].HasField("task"), "one task event", events)
        task = events[0].task
        text = "".join(p.text for a in task.artifacts for p in a.parts)
        expect(task.status.state == TaskState.TASK_STATE_COMPLETED, "COMPLETED", task)
        expect(text == "echo: hello", "`echo: hello`", task)
        print(f"OK send {TaskState.Name(task.status.state)} {text}")

        streaming = client(url, http, streaming=True)
        events = await collect(streaming.send_message(SendMessageRequest(message=msg("stream me"))))
        kinds = [e.WhichOneof("payload") for e in events]
        arts = [e.artifact_update for e in events if e.HasField("artifact_update")]
        text = "".join(p.text for a in arts for p in a.artifact.parts)
        last = events[-1]
        final = last.status_update.status.state if last.HasField("status_update") else None
        expect(final == TaskState.TASK_STATE_COMPLETED, "a final COMPLETED status", events)
        expect(text == "echo: stream me", "artifact updates spelling `echo: stream me`", events)
        print(f"OK stream events={len(events)} first={kinds[0]} {TaskState.Name(final)} {text}")
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
