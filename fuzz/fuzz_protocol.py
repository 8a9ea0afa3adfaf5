"""Coverage-guided fuzzing (atheris, Linux) of the client-frame parser, the SDP validator and token parsing.

    python -m fuzz.fuzz_protocol parse -max_total_time=600 -max_len=65536 -artifact_prefix=tests/corpus/regressions/parse-
    python -m fuzz.fuzz_protocol sdp   -max_total_time=600 -max_len=65536 -artifact_prefix=tests/corpus/regressions/sdp-
    python -m fuzz.fuzz_protocol token -max_total_time=600 -max_len=16384 -artifact_prefix=tests/corpus/regressions/token-

A crash is written under ``tests/corpus/regressions/<target>-…``; commit it and the PR suite replays it
(``tests/corpus/test_fuzz_regressions.py``). Figures: docs/reliability.md (G8). Run from the repository root.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("parse", "sdp", "token"):
        sys.exit(f"usage: python -m fuzz.fuzz_protocol parse|sdp|token [libFuzzer flags]\n{__doc__}")
    target_name = sys.argv.pop(1)
    import atheris

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()  # imports django_levelchat, so its modules are instrumented in place below
    from django_levelchat import protocol, tokens
    from fuzz import targets

    for module in (protocol, tokens, targets):
        _instrument(atheris, module)
    target = targets.TARGETS[target_name]
    if not any(not arg.startswith("-") for arg in sys.argv[1:]):  # no corpus directory given: a seeded one
        corpus = Path(tempfile.gettempdir()) / f"levelchat-fuzz-{target_name}"
        corpus.mkdir(exist_ok=True)
        for i, seed in enumerate(targets.seeds(target_name)):
            (corpus / f"seed-{i}").write_bytes(seed)
        sys.argv.append(str(corpus))
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


def _instrument(atheris: Any, module: ModuleType) -> None:
    """Coverage feedback for every function and method defined in ``module`` (already imported)."""
    for value in list(vars(module).values()):
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            atheris.instrument_func(value)
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for attr in vars(value).values():
                func = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
                if inspect.isfunction(func):
                    atheris.instrument_func(func)


if __name__ == "__main__":
    main()
