"""Demo data for `responer dev up`: realistic Polish and English support mail, deterministic."""

from responer_cli.demo.mails import DEMO_ADDRESS, DEMO_DOMAIN, demo_messages

__all__ = ["DEMO_ADDRESS", "DEMO_DOMAIN", "demo_messages"]
