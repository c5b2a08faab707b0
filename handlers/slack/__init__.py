"""The Slack adapter: a Bolt AsyncApp whose listeners parse, call a service, render and send."""

from handlers.slack.app import build_slack_app, build_socket_mode_handler

__all__ = ["build_slack_app", "build_socket_mode_handler"]
