"""Drives the push-notification config operations of a molecule-a2a server with the official
Python A2A SDK (a2a-sdk 1.x) client, on JSON-RPC and HTTP+JSON, and a message whose push
config makes the server deliver to a webhook.

Usage: python a2a_push_check.py <base-url> <webhook-url>

Prints one `OK <binding> ...` line per binding and `ALL OK`; the first failure raises.
The Rust test (tests/push.rs) checks these lines and what the webhook received.
"""

import asyncio
import sys
import uuid

from a2a.client import ClientConfig, create_client
from a2a.types.a2a_pb2 import (
    AuthenticationInfo,
    DeleteTaskPushNotificationConfigRequest,
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


async def check(binding: str, url: str, hook: str) -> None:
    client = await create_client(
        url, ClientConfig(streaming=False, supported_protocol_bindings=[binding])
    )
    # An interrupted task to hang configs on.
    events = [e async for e in client.send_message(SendMessageRequest(message=msg("ask x")))]
    task_id = events[0].task.id
    created = await client.create_task_push_notification_config(
        TaskPushNotificationConfig(
            task_id=task_id,
            id="py-1",
            url=hook,
            token="py-token",
            authentication=AuthenticationInfo(scheme="Bearer", credentials="py-cred"),
        )
    )
    assert created.id == "py-1" and created.task_id == task_id, created
    got = await client.get_task_push_notification_config(
        GetTaskPushNotificationConfigRequest(task_id=task_id, id="py-1")
    )
    assert got.url == hook and got.token == "py-token", got
    assert got.authentication.credentials == "py-cred", got
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert [c.id for c in listed.configs] == ["py-1"], listed
    await client.delete_task_push_notification_config(
        DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="py-1")
    )
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert len(listed.configs) == 0, listed
    print(f"OK {binding} create,get,list,delete")
    # A config sent with the message: the server pushes the task's updates to the webhook.
    req = SendMessageRequest(message=msg(f"pushed over {binding}"))
    req.configuration.task_push_notification_config.url = hook
    req.configuration.task_push_notification_config.token = f"send-{binding}"
    events = [e async for e in client.send_message(req)]
    print(f"OK {binding} send-with-push {events[0].task.id}")
    await client.close()


async def main(url: str, hook: str) -> None:
    for binding in ("JSONRPC", "HTTP+JSON"):
        await check(binding, url, hook)
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
