"""The startup self-check guards the private aiortc internals the relay hooks into."""

from __future__ import annotations

import types

import pytest
from aiortc import RTCPeerConnection, rtcrtpreceiver

from django_levelchat.sfu import selfcheck


async def test_installed_aiortc_passes() -> None:
    selfcheck.check_aiortc()


async def test_missing_internals_are_named() -> None:
    transceiver = RTCPeerConnection().addTransceiver("video")
    assert selfcheck.missing_internals(transceiver.receiver, transceiver.sender, rtcrtpreceiver, transceiver) == []
    doctored = types.SimpleNamespace(_send_rtcp_pli=None)
    missing = selfcheck.missing_internals(doctored, transceiver.sender, types.SimpleNamespace(), doctored)
    assert "RTCRtpReceiver._RTCRtpReceiver__jitter_buffer" in missing
    assert "aiortc.rtcrtpreceiver.decoder_worker" in missing
    assert "RTCRtpTransceiver._codecs" in missing


async def test_check_refuses_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(rtcrtpreceiver, "decoder_worker")
    with pytest.raises(selfcheck.SfuUnsupported, match=r"aiortc>=1\.16,<1\.17.*pip install|decoder_worker"):
        selfcheck.check_aiortc()


def test_runsfu_refuses_to_start_without_the_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import CommandError, call_command

    monkeypatch.delattr(rtcrtpreceiver, "decoder_worker")
    with pytest.raises(CommandError, match="decoder_worker"):
        call_command("runsfu", "--workers", "1")


def test_runsfu_checks_its_arguments() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="at least 1"):
        call_command("runsfu", "--workers", "0")
    with pytest.raises(CommandError, match="one worker"):
        call_command("runsfu", "--workers", "2", "--worker-id", "a")
