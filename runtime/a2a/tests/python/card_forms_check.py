"""Both card forms with the official a2a-sdk 1.3.0 client: resolve, build a client, send.

Usage: card_forms_check.py URL
- `factory`: create_client(URL) (ClientFactory; its card fetch sends `A2A-Version: 1.0`);
- `merged`: A2ACardResolver at the well-known path with no version header (the 0.3 form);
- `v1-route`: A2ACardResolver at /.well-known/agent-card-1.0.json.
Each prints `OK <way> <reply text>`; `ALL OK` at the end.
"""

import asyncio
import sys
import uuid

import httpx

from a2a.client import ClientConfig, create_client
from a2a.client.card_resolver import A2ACardResolver
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest


async def send(client, text: str) -> str:
    msg = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    events = [e async for e in client.send_message(SendMessageRequest(message=msg))]
    return events[-1].task.status.message.parts[0].text


async def main(url: str) -> None:
    config = ClientConfig(streaming=False)
    print("OK factory " + await send(await create_client(url, config), "one"))
    async with httpx.AsyncClient() as http:
        merged = await A2ACardResolver(http, url).get_agent_card()
        print("OK merged " + await send(await create_client(merged, config), "two"))
        v1 = await A2ACardResolver(
            http, url, agent_card_path="/.well-known/agent-card-1.0.json"
        ).get_agent_card()
        print("OK v1-route " + await send(await create_client(v1, config), "three"))
    print("ALL OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
