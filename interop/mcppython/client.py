"""A client no one here wrote: the official MCP Python SDK drives
`aimx-mailboxes mcp` over stdio against a real helper, lists the tools and
calls each one, asserting the exact results.

Usage: client.py DATA_DIR -- COMMAND [ARG...]
COMMAND starts the server (e.g. bin/aimx-mailboxes mcp --socket S); the
config behind S has domain = "example.test" and DATA_DIR as its data dir.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}:\n   got {got!r}\n  want {want!r}")
    else:
        print(f"ok   {what}")


def text(result):
    """The one text block of a tool result, with 'ERROR: ' for a tool error."""
    assert len(result.content) == 1, result
    t = result.content[0].text
    return "ERROR: " + t if result.is_error else t


async def run(data_dir, command):
    params = StdioServerParameters(command=command[0], args=command[1:], env={})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            init = await s.initialize()
            check("server name", init.server_info.name, "aimx-mailboxes")

            tools = {t.name: t for t in (await s.list_tools()).tools}
            check("tools", sorted(tools), ["mailbox_create", "mailbox_delete", "mailbox_list"])
            for name, t in sorted(tools.items()):
                check(f"{name} schema is strict", t.input_schema.get("additionalProperties"), False)
            check("mailbox_create arguments", sorted(tools["mailbox_create"].input_schema["properties"]), ["name"])
            check("mailbox_delete arguments", sorted(tools["mailbox_delete"].input_schema["properties"]), ["force", "name"])
            check("mailbox_list arguments", tools["mailbox_list"].input_schema["properties"], {})

            check("list, empty", text(await s.call_tool("mailbox_list", {})), "[]")
            check("create", text(await s.call_tool("mailbox_create", {"name": "py-agent"})), "py-agent@example.test")
            check("create again", text(await s.call_tool("mailbox_create", {"name": "py-agent"})),
                  "ERROR: [MAILBOX] mailbox 'py-agent' already exists")
            inbox = os.path.join(data_dir, "inbox", "py-agent")
            listed = json.loads(text(await s.call_tool("mailbox_list", {})))
            check("list shows it", listed, [{
                "name": "py-agent", "address": "py-agent@example.test",
                "inbox_path": inbox, "sent_path": os.path.join(data_dir, "sent", "py-agent"),
                "total": 0, "unread": 0, "sent_count": 0, "registered": True}])

            with open(os.path.join(inbox, "2026-01-01-hello.md"), "w") as f:
                f.write('+++\nsubject = "hello"\n+++\nhi\n')
            check("list counts the message", json.loads(text(await s.call_tool("mailbox_list", {})))[0]["unread"], 1)
            check("delete, not empty", text(await s.call_tool("mailbox_delete", {"name": "py-agent"})),
                  "ERROR: [NONEMPTY] mailbox 'py-agent' has 1 file (1 in inbox, 0 in sent); archive or remove them first\n"
                  "hint: call mailbox_delete again with force: true to delete the messages together with the mailbox")
            check("delete, force", text(await s.call_tool("mailbox_delete", {"name": "py-agent", "force": True})),
                  "Mailbox 'py-agent' deleted.")
            check("list, empty again", text(await s.call_tool("mailbox_list", {})), "[]")
            check("delete, missing", text(await s.call_tool("mailbox_delete", {"name": "py-agent"})),
                  "ERROR: [MAILBOX] mailbox 'py-agent' does not exist")
            check("create, reserved name", text(await s.call_tool("mailbox_create", {"name": "catchall"})),
                  "ERROR: [VALIDATION] invalid mailbox name 'catchall': it is reserved for the catch-all mailbox\n"
                  "hint: a mailbox name is 1 to 64 characters from a-z, 0-9, '.', '_' and '-', not starting or "
                  "ending with '.', without '..', and not 'catchall' or 'aimx-catchall'")
            check("create with an owner argument is refused",
                  text(await s.call_tool("mailbox_create", {"name": "x", "owner": "root"})),
                  'ERROR: [VALIDATION] mailbox_create has no argument "owner"\n'
                  "hint: a mailbox is always owned by the user this server runs as; mailbox_create takes name")


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.exit(__doc__)
    asyncio.run(run(args[0], args[2:]))
    if failures:
        print("FAIL " + "\nFAIL ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("PASS: the MCP Python SDK drove aimx-mailboxes mcp")


if __name__ == "__main__":
    main()
