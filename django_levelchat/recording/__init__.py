"""Recording: copy-muxed track files written by the SFU worker, finalised into Django's storage, composed after
the call. The writer (``writer.py``, ``timeline.py``, ``spool.py``) has no Django in it; the rest does."""
