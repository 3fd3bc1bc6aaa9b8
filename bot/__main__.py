"""``python -m bot``: build Settings once, set up logging, open the service, start the bot."""

from __future__ import annotations

import logging
import sys

from bot.config import Settings, setup_logging
from index.errors import CitebotError

log = logging.getLogger(__name__)


def run_bot(settings: Settings) -> None:
    """Run the Discord bot until it is stopped."""
    import discord

    from bot.client import make_bot

    if settings.discord_token is None:
        raise SystemExit("CITEBOT_DISCORD_TOKEN is not set")
    setup_logging(settings.log_level)
    service = settings.open_service()
    try:
        if not service.store.checked:  # too large to check at every open: once at start
            log.info("checking the database %s", service.store.location)
            service.store.quick_check()
        make_bot(settings, service).run(settings.discord_token.get_secret_value(), log_handler=None)
    except discord.LoginFailure:
        raise CitebotError(
            "Discord refused CITEBOT_DISCORD_TOKEN: copy the bot's token again from the "
            "Developer Portal (Bot > Reset Token)"
        ) from None
    except discord.PrivilegedIntentsRequired:
        if settings.message_content_intent:
            raise CitebotError(
                "Discord refused the message-content intent: enable Message Content Intent "
                "under Bot in the Developer Portal (bots in 100 or more servers need Discord's "
                "approval), or set CITEBOT_MESSAGE_CONTENT_INTENT=false"
            ) from None
        raise CitebotError(
            "Discord refused an intent citebot asked for; citebot needs no privileged intent "
            "unless CITEBOT_MESSAGE_CONTENT_INTENT is set, so check that this token is citebot's"
        ) from None
    finally:
        service.close()


def main() -> None:
    """Entry point of ``python -m bot``."""
    settings = Settings()
    if settings.discord_token is None:
        sys.exit("CITEBOT_DISCORD_TOKEN is not set; try `citebot chat` for a terminal session")
    try:
        run_bot(settings)
    except CitebotError as error:  # e.g. a damaged database: one line, no traceback
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
