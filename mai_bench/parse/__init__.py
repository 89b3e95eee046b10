"""benchmark_model output -> ParsedRun: pure functions, text in, frozen values out, no I/O."""

from mai_bench.parse.log import parse_log
from mai_bench.parse.run import REPORT_KEYS, STATUSES, VERDICTS, DelegateApplication, OpProfileRow, ParsedRun

__all__ = ["REPORT_KEYS", "STATUSES", "VERDICTS", "DelegateApplication", "OpProfileRow", "ParsedRun", "parse_log"]
