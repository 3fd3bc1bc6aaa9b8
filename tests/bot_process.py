"""`citebot run` as its own process against the fake Discord (tests only).

Points discord.py at the fake's REST API and gateway (``FAKE_DISCORD_API``,
``FAKE_DISCORD_GATEWAY``), then runs the real command line with the given arguments; every
other setting comes from the CITEBOT_* environment as in production.
"""

from __future__ import annotations

import os
import sys

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.cli import main

if __name__ == "__main__":
    Route.BASE = os.environ["FAKE_DISCORD_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_GATEWAY"])
    main(["run", *sys.argv[1:]])
