"""The A2A 0.3 surface of a molecule-a2a server, driven by the official a2a-sdk 1.3.0: its 0.3
JSON-RPC client (`CompatJsonRpcTransport`, chosen by the factory for an interface with
protocol version 0.3) and its server-side card merge (`agent_card_to_dict`).

Usage: compat_v03_check.py <base-url> <bearer-secret> <webhook-url>

The server has an inbound secret, push on (127.0.0.1 allowed) and an extended card with an
`admin` skill. Prints one `OK ...` line per check and `ALL OK`; the first failure raises.
"""

import asyncio
import sys
import uuid

import httpx
from google.protobuf.json_format import ParseDict

from a2a.client import ClientConfig, ClientFactory
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types.a2a_pb2 import (
    AgentCard,
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    TaskPushNotificationConfig,
)


def msg(text: str) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])


async def main(url: str, secret: str, hook: str) -> None:
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    card_url = f"{url}/.well-known/agent-card.json"
    merged = (await http.get(card_url)).json()
    v1 = (await http.get(card_url, headers={"A2A-Version": "1.0"})).json()

    # The merged card carries the 0.3 fields the reference server's merge produces.
    expected = agent_card_to_dict(ParseDict(v1, AgentCard(), ignore_unknown_fields=True))
    for key in ("security", "securitySchemes", "supportsAuthenticatedExtendedCard", "url"):
        assert merged.get(key) == expected.get(key), (key, merged.get(key), expected.get(key))
    assert "security" not in v1 and "supportsAuthenticatedExtendedCard" not in v1, v1
    assert "type" not in v1["securitySchemes"]["bearer"], v1
    print(f"OK card-03-fields security={merged['security']}")

    # A 0.3 client: the card with its 0.3 interface only.
    core = ParseDict(v1, AgentCard(), ignore_unknown_fields=True)
    keep = [i for i in core.supported_interfaces if i.protocol_version == "0.3"]
    del core.supported_interfaces[:]
    core.supported_interfaces.extend(keep)
    client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(core)

    events = [e async for e in client.send_message(SendMessageRequest(message=msg("ask x")))]
    task_id = events[0].task.id
    created = await client.create_task_push_notification_config(
        TaskPushNotificationConfig(
            task_id=task_id,
            id="v03-1",
            url=hook,
            token="v03-token",
            authentication=AuthenticationInfo(scheme="Bearer", credentials="v03-cred"),
        )
    )
    assert created.id == "v03-1" and created.task_id == task_id and created.url == hook, created
    assert created.authentication.scheme == "Bearer", created
    got = await client.get_task_push_notification_config(
        GetTaskPushNotificationConfigRequest(task_id=task_id, id="v03-1")
    )
    assert got.token == "v03-token" and got.authentication.credentials == "v03-cred", got
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert [c.id for c in listed.configs] == ["v03-1"], listed
    assert listed.configs[0].url == hook, listed
    await client.delete_task_push_notification_config(
        DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="v03-1")
    )
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert len(listed.configs) == 0, listed
    print("OK v03 set,get,list,delete")

    # A push config with authentication sent with the message (0.3 `schemes`).
    req = SendMessageRequest(message=msg("pushed over 0.3"))
    pn = req.configuration.task_push_notification_config
    pn.url = hook
    pn.token = "send-v03"
    pn.authentication.scheme = "Bearer"
    pn.authentication.credentials = "hook-cred"
    events = [e async for e in client.send_message(req)]
    print(f"OK v03 send-with-push {events[0].task.id}")

    ext = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
    skills = sorted(s.id for s in ext.skills)
    assert "admin" in skills, ext
    print("OK v03 extended-card " + ",".join(skills))
    await http.aclose()
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
