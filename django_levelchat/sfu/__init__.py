"""The SFU: forwards ENCODED media between aiortc peer connections (no decode, no re-encode).

The media core (``relay``, ``forward``, ``keyframes``, ``remb``, ``sdp``, ``room``) imports no Django; the worker
reaches the rest of the app only over the channel layer and the ORM. See docs/sfu.md.
"""
