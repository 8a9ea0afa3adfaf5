"""SDP rewriting on SFU legs: one codec per kind (VP8, Opus), the start-bitrate hint, candidate policy.

Encoded forwarding needs the same codec on every leg, and aiortc can packetize VP8 and Opus (and H.264, not used
here): so offers reaching the SFU are reduced to those before aiortc sees them, and the SFU's own transceivers
prefer them. ``x-google-start-bitrate`` makes Chrome start near the target instead of ramping for ~30 s.
"""

from __future__ import annotations

import ipaddress
import re

PINNED = {"video": "vp8", "audio": "opus"}
_RTPMAP_RE = re.compile(r"a=rtpmap:(\d+) ([^/\s]+)/")
_FMTP_APT_RE = re.compile(r"a=fmtp:(\d+) .*\bapt=(\d+)")
_UFRAG_RE = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)
_PT_ATTR_RE = re.compile(r"a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ :]")


class UnsupportedCodec(ValueError):
    """An offered media section carries no codec the SFU can forward."""


def _sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    lines = sdp.replace("\r\n", "\n").rstrip("\n").split("\n")
    session: list[str] = []
    media: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    return session, media


def _join(session: list[str], media: list[list[str]]) -> str:
    return "\r\n".join([*session, *(line for section in media for line in section)]) + "\r\n"


def pin_codecs(sdp: str) -> str:
    """Keep only VP8 (+ its RTX) in video sections and Opus in audio sections of an offer."""
    session, media = _sections(sdp)
    for section in media:
        parts = section[0].split()
        kind = parts[0][2:]
        if kind not in PINNED or parts[1] == "0":
            continue
        names = {m.group(1): m.group(2).lower() for line in section if (m := _RTPMAP_RE.match(line))}
        keep = {pt for pt, name in names.items() if name == PINNED[kind]}
        if not keep:
            raise UnsupportedCodec(f"the SFU forwards only VP8 video and Opus audio; a {kind} section offers neither")
        keep |= {m.group(1) for line in section if (m := _FMTP_APT_RE.match(line)) and m.group(2) in keep}
        section[0] = " ".join(parts[:3] + [pt for pt in parts[3:] if pt in keep])
        section[1:] = [line for line in section[1:] if (m := _PT_ATTR_RE.match(line)) is None or m.group(1) in keep]
    return _join(session, media)


CodecKey = tuple[str, str | None]  # ("vp8/90000", None), ("rtx/90000", "vp8/90000")
_DYNAMIC = range(96, 128)


def _codecs(section: list[str]) -> dict[str, CodecKey]:
    """Payload type -> (``name/clock[/channels]`` lower-cased, the base codec of an RTX) in one m-section."""
    apt = {m.group(1): m.group(2) for line in section if (m := _FMTP_APT_RE.match(line))}
    names = {
        m.group(1): line.split()[1].lower()
        for line in section
        if (m := _PT_ATTR_RE.match(line)) and line.startswith("a=rtpmap:")
    }
    return {pt: (name, names.get(apt[pt]) if pt in apt else None) for pt, name in names.items()}


def _mid(section: list[str]) -> str | None:
    return next((line[6:].strip() for line in section if line.startswith("a=mid:")), None)


def _renumber(section: list[str], mapping: dict[str, str]) -> None:
    """Apply ``mapping`` (old payload type -> new) to a section, leaving out the payload types it does not name."""
    parts = section[0].split()
    rewritten = [" ".join(parts[:3] + [mapping[pt] for pt in parts[3:] if pt in mapping])]
    for line in section[1:]:
        m = _PT_ATTR_RE.match(line)
        if m is None:
            rewritten.append(line)
        elif m.group(1) in mapping:
            line = line.replace(f":{m.group(1)}", f":{mapping[m.group(1)]}", 1)
            apt = _FMTP_APT_RE.match(line)
            if apt is not None and apt.group(2) in mapping:
                line = re.sub(r"\bapt=\d+", f"apt={mapping[apt.group(2)]}", line)
            rewritten.append(line)
    section[:] = rewritten


def keep_payload_types(offer: str, negotiated: str) -> str:
    """Number the codecs of our re-offer the way this connection already numbers them.

    aiortc's ``createOffer`` numbers every section from its own defaults (VP8 97, RTX 98, Opus 96), also the
    sections a browser offered with its numbers (Chrome: VP8 96, RTX 97, Opus 111). RFC 3264 §8.3.2 forbids
    remapping a negotiated section: Chrome follows the re-offer and sends VP8 as 97, which the SFU's running
    receiver takes for RTX and drops, and Opus as 96, which reaches no audio receiver. And a new section numbered
    VP8 97 beside a browser's RTX 97 in the same BUNDLE is a collision Chrome resolves by renumbering the section
    in its next offer, while our sender keeps the number it started with: that subscriber decodes nothing.

    So a section already negotiated keeps its numbers (``negotiated`` is the description the other side last
    applied with us), dropping codecs it did not negotiate; a new section uses the numbers the connection already
    has for its codecs, and for others a number no other codec of the connection uses.
    """
    _, reference = _sections(negotiated)
    per_mid: dict[str, dict[CodecKey, str]] = {}
    connection: dict[CodecKey, str] = {}
    used: set[str] = set()
    for section in reference:
        codecs = _codecs(section)
        numbers = {key: pt for pt, key in codecs.items()}
        if (mid := _mid(section)) is not None:
            per_mid[mid] = numbers
        for key, pt in numbers.items():
            if pt not in used:
                connection.setdefault(key, pt)
        used |= set(codecs)
    session, media = _sections(offer)
    for section in media:
        codecs = _codecs(section)
        mapping: dict[str, str] = {}
        known = per_mid.get(_mid(section) or "")
        if known:
            for pt, key in codecs.items():
                if key in known and known[key] not in mapping.values():
                    mapping[pt] = known[key]
        else:
            for pt, key in sorted(codecs.items(), key=lambda item: item[1][1] is not None):  # RTX after its base
                taken = used | set(mapping.values())
                target = connection.get(key)
                if target is None or target in mapping.values():
                    target = pt if pt not in taken else next((str(n) for n in _DYNAMIC if str(n) not in taken), pt)
                mapping[pt] = target
        if mapping:
            _renumber(section, mapping)
    return _join(session, media)


def add_start_bitrate(sdp: str, kbps: int) -> str:
    """Add ``x-google-start-bitrate`` to every VP8 payload type of the video sections."""
    if kbps <= 0:
        return sdp
    session, media = _sections(sdp)
    for section in media:
        if not section[0].startswith("m=video"):
            continue
        vp8 = [m.group(1) for line in section if (m := _RTPMAP_RE.match(line)) and m.group(2).lower() == "vp8"]
        for pt in vp8:
            param = f"x-google-start-bitrate={kbps}"
            for i, line in enumerate(section):
                if line.startswith(f"a=fmtp:{pt} "):
                    section[i] = f"{line};{param}"
                    break
            else:
                at = next(i for i, line in enumerate(section) if line.startswith(f"a=rtpmap:{pt} "))
                section.insert(at + 1, f"a=fmtp:{pt} {param}")
    return _join(session, media)


def ice_ufrag(sdp: str) -> str | None:
    """The first ``a=ice-ufrag`` of a description: a new one means a new connection (or an ICE restart)."""
    match = _UFRAG_RE.search(sdp)
    return match.group(1) if match else None


def candidate_address(candidate: str) -> str | None:
    """The connection address of an ``a=candidate`` value (``candidate:…`` prefix optional)."""
    parts = candidate.split()
    return parts[4] if len(parts) >= 8 else None


def is_private_address(address: str) -> bool:
    """Loopback, private, link-local or unspecified addresses (and mDNS ``.local`` names, which hide one)."""
    if address.endswith(".local"):
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified


def drop_private_candidates(sdp: str) -> str:
    """Remove candidates on private/loopback addresses from an SDP (the SFU must not be steered at them)."""
    session, media = _sections(sdp)
    for section in media:
        section[:] = [
            line
            for line in section
            if not (line.startswith("a=candidate:") and is_private_address(candidate_address(line[2:]) or ""))
        ]
    return _join(session, media)


def rewrite_local_candidates(sdp: str, *, announced: str | None = None, only: frozenset[str] | None = None) -> str:
    """The SFU's own SDP as clients should see it: host candidates limited to the ``only`` addresses (when set),
    and their address replaced by ``announced`` (a server behind 1:1 NAT), the ``c=`` lines with them."""
    if announced is None and only is None:
        return sdp
    session, media = _sections(sdp)
    for section in media:
        kept = []
        for line in section:
            if line.startswith("a=candidate:"):
                parts = line.split()
                if len(parts) >= 8 and parts[7] == "host":
                    if only is not None and parts[4] not in only:
                        continue
                    if announced is not None:
                        parts[4] = announced
                        line = " ".join(parts)
            elif line.startswith("c=IN ") and announced is not None:
                family = "IP6" if ":" in announced else "IP4"
                line = f"c=IN {family} {announced}"
            kept.append(line)
        section[:] = kept
    return _join(session, media)
