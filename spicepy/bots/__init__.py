"""spicepy.bots: what screen-driving bots and tests need on top of a Session.

- ``needles``: openQA needles (JSON areas + PNG), loaded and saved.
- ``match``: finding a needle or template on a screen (numpy).
- ``ocr``: text with positions through Tesseract (optional extra ``ocr``).
- ``actions``: ``expect``, ``wait_for_needle``, ``click_on``, ``wait_for_text``...
  as ``async def f(session, ...)`` on the public Session API.
- ``report``: failure reports (best score, where, screen/reference/diff PNGs).
- ``script``: the ``spicepy do`` command language (vncdotool spellings too);
  ``runner``: runs its steps on a session.
- ``sniffer`` + ``recorder`` + ``proxy`` + ``pcap_writer``: ``spicepy proxy``,
  recording a person's input through a forwarding (TLS-terminating) proxy as a
  script (and a pcap without the authentication).
- ``mcp_server``: ``spicepy mcp``, tools for AI agents (extra ``mcp``).
- ``pytest_plugin``: the ``spice`` fixture (entry point ``pytest11``).
- ``cli``: the ``do`` / ``mcp`` / ``proxy`` subcommands.
"""
