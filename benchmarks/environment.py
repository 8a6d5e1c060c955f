"""What a benchmark ran on, written into its JSON beside the numbers.

The same code measured 18.6x (checker) and 0.51 s (16-bar compose) on the machine of
one session and 11.9x and 0.31 s on the next (``results/checker_speed_twelfth_session.json``
against ``checker_speed.json``, ``hybrid_speed_twelfth_session.json`` against
``hybrid_speed.json``; the earlier files record no library versions); music21 9.9.2 instead of 10.5.1
measured alike there (``checker_cold_stages_music21_9.9.2.json``). The 2-core machine behind
this project is not always the same CPU, although /proc/cpuinfo names both "AMD EPYC".
Speed figures are comparable only within one run or one environment, so every speed benchmark records it.
"""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["environment"]

_CPUINFO_KEYS = {"model name": "cpu", "cpu family": "cpu_family", "model": "cpu_model", "stepping": "cpu_stepping",
                 "cpu MHz": "cpu_mhz", "cache size": "cache_per_core", "microcode": "microcode"}


def _cpuinfo() -> dict[str, str]:
    """The first processor's identifying lines of /proc/cpuinfo (empty where there is none)."""
    out: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return out
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        name = _CPUINFO_KEYS.get(key.strip())
        if name:
            out[name] = value.strip()
    return out


def environment() -> dict[str, object]:
    """CPU, core count, Python, and the versions of the libraries the timings depend on."""
    versions = {}
    for dist in ("numpy", "music21", "torch", "lark"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"platform": platform.platform(), "python": platform.python_version(), "executable": sys.executable,
            "cpu_count": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else None, **_cpuinfo(), "versions": versions}
