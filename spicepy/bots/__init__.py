"""spicepy.bots: what screen-driving bots and tests need on top of a Session.

- ``needles``: openQA needles (JSON areas + PNG), loaded and saved.
- ``match``: finding a needle or template on a screen (numpy).
- ``ocr``: text with positions through Tesseract (optional extra ``ocr``).
- ``actions``: ``expect``, ``wait_for_needle``, ``click_on``, ``wait_for_text``...
  as ``async def f(session, ...)`` on the public Session API.
- ``report``: failure reports (best score, where, screen/reference/diff PNGs).
- ``script``: the ``spicepy do`` command language (vncdotool spellings too).
"""
