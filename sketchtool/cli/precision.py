"""The one `--precision` vocabulary of every command (auto, fp32, bf16; float32 and bfloat16 read as the same)."""

from __future__ import annotations

import click

from sketchtool.device import PRECISIONS, normalize_precision
from sketchtool.errors import SketchtoolError

__all__ = ["PRECISION"]


class _Precision(click.ParamType):
    name = "|".join(PRECISIONS)

    def convert(self, value, param, ctx):
        try:
            return normalize_precision(value)
        except SketchtoolError:
            self.fail(f"{value!r} is not one of {', '.join(PRECISIONS)}", param, ctx)


PRECISION = _Precision()
