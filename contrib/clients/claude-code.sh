#!/bin/sh
# Claude Code: register the shim as a stdio MCP server for this user.
claude mcp add snowflake --scope user -- snowmux shim
