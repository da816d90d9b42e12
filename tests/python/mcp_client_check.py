"""Drives a molecule workspace's MCP server with the official Python MCP SDK (`mcp` 2.x).

Usage:
  python mcp_client_check.py http <url-of-/mcp> <bearer-token>
  python mcp_client_check.py stdio <molecule-runtime binary> <skill-dir>...

Over HTTP the workspace serves the skills `json-query` and `hostile` (tests/guests/hostile)
with `sandbox.timeout` short, `versioned` (tool `version`) present in skills/ but not admitted by config.yaml
`skills:`, and the inbound bearer `token`. Over stdio the binary runs `mcp --stdio` on the
given folders (json-query first). Each check prints one `OK <name> ...` line; the first
failure raises with what was expected, and `ALL OK` is printed at the end. The Rust test
(tests/mcp.rs) asserts on these lines.
"""

import asyncio
import json
import os
import sys

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

# Upper bound for one whole exchange, so a hang fails instead of blocking the test.
TIMEOUT = 60.0

DOC = {"items": [{"name": "first"}, {"name": "second"}]}


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


async def common_checks(session: ClientSession) -> None:
    tools = await session.list_tools()
    names = sorted(t.name for t in tools.tools)
    expect("query" in names, f"tools/list has `query`: {names}")
    query = next(t for t in tools.tools if t.name == "query")
    expect(query.input_schema.get("type") == "object", f"query schema: {query.input_schema}")
    print("OK list_tools " + ",".join(names), flush=True)

    result = await session.call_tool("query", {"json": DOC, "pointer": "/items/1/name"})
    expect(not result.is_error, f"query succeeds: {result}")
    expect(json.loads(text_of(result)) == "second", f"query answer: {text_of(result)}")
    receipt = (result.meta or {}).get("io.molecule/receipt") or {}
    expect(receipt.get("wall_ms", 0) > 0, f"the receipt is in _meta: {result.meta}")
    print("OK call_tool query " + text_of(result), flush=True)

    bad = await session.call_tool("query", {"pointer": "/x"})
    expect(bad.is_error is True, f"missing field is an error result: {bad}")
    print("OK invalid_input " + text_of(bad)[:80].replace("\n", " "), flush=True)

    resources = await session.list_resources()
    uris = sorted(str(r.uri) for r in resources.resources)
    expect("skill://index.json" in uris, f"index listed: {uris}")
    expect("skill://json-query/SKILL.md" in uris, f"SKILL.md listed: {uris}")
    skill_md = next(r for r in resources.resources if str(r.uri) == "skill://json-query/SKILL.md")
    expect(skill_md.mime_type == "text/markdown", f"mime: {skill_md}")
    read = await session.read_resource("skill://json-query/SKILL.md")
    expect("name: json-query" in read.contents[0].text, f"SKILL.md text: {read}")
    index = json.loads((await session.read_resource("skill://index.json")).contents[0].text)
    urls = sorted(s["url"] for s in index["skills"])
    expect("skill://json-query/SKILL.md" in urls, f"index: {index}")
    entry = next(s for s in index["skills"] if s["url"] == "skill://json-query/SKILL.md")
    expect(entry["frontmatter"]["name"] == "json-query", f"index entry: {entry}")
    expect(entry["digest"].startswith("sha256:"), f"digest: {entry}")
    print("OK resources " + ",".join(uris), flush=True)

    try:
        await session.read_resource("skill://../etc/passwd")
        raise AssertionError("reading an unknown skill:// URI must fail")
    except AssertionError:
        raise
    except Exception as e:  # the SDK raises McpError for a JSON-RPC error answer
        print("OK unknown_resource " + type(e).__name__, flush=True)


async def http_checks(url: str, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    async with streamable_http_client(url, http_client=create_mcp_http_client(headers=auth)) as (
        read,
        write,
    ):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print("OK initialize " + init.server_info.name, flush=True)
            await common_checks(session)

            hidden = await session.call_tool("version", {})
            expect(hidden.is_error is True, f"a skill not admitted is not callable: {hidden}")
            print("OK not_granted " + text_of(hidden)[:60].replace("\n", " "), flush=True)

            denied = await session.call_tool("use_memory", {})
            out = json.loads(text_of(denied))
            expect(out["ok"] is False and "Denied" in out["result"], f"memory denied: {out}")
            print("OK capability_denied", flush=True)

            spin = await session.call_tool("spin", {})
            expect(spin.is_error is True, f"the loop is stopped: {spin}")
            expect("sandbox.timeout" in text_of(spin), f"names the limit: {text_of(spin)}")
            print("OK limit " + text_of(spin)[:100].replace("\n", " "), flush=True)

    # Without the bearer (and with a wrong one) nothing reaches the server: HTTP 401.
    for name, headers in [("missing", {}), ("wrong", {"Authorization": "Bearer nope"})]:
        try:
            async with streamable_http_client(
                url, http_client=create_mcp_http_client(headers=headers)
            ) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
            raise AssertionError(f"{name} bearer: initialize must fail")
        except AssertionError:
            raise
        except BaseException as e:  # the 401's JSON-RPC error, in the task groups' ExceptionGroup
            expect("Unauthorized" in repr(e), f"{name}: {e!r}")
        async with httpx2.AsyncClient() as raw:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            resp = await raw.post(url, json=body, headers=headers)
            expect(resp.status_code == 401, f"{name}: status {resp.status_code}")
            expect(resp.headers.get("www-authenticate") == "Bearer", f"{resp.headers}")
        print(f"OK unauthorized {name} 401", flush=True)


async def stdio_checks(binary: str, skills: list[str]) -> None:
    # The SDK passes the child a minimal environment; the build cache is shared explicitly.
    env = {k: os.environ[k] for k in ("MOLECULE_CACHE_DIR", "CARGO_TARGET_DIR") if k in os.environ}
    params = StdioServerParameters(command=binary, args=["mcp", "--stdio", *skills], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print("OK initialize " + init.server_info.name, flush=True)
            await common_checks(session)


async def main() -> None:
    mode = sys.argv[1]
    if mode == "http":
        await asyncio.wait_for(http_checks(sys.argv[2], sys.argv[3]), TIMEOUT)
    else:
        await asyncio.wait_for(stdio_checks(sys.argv[2], sys.argv[3:]), TIMEOUT)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
