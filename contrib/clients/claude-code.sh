#!/bin/sh
# Claude Code: register the shim as a stdio MCP server for this user (options go before the name).
# `snowmux setup claude-code` prints the same line with absolute paths (for a PATH without snowmux).
claude mcp add --transport stdio --scope user snowflake -- snowmux shim
