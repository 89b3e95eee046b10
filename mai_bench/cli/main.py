"""The `mai-bench` command. Subcommands live one per module in `mai_bench.cli` and load lazily,
so `mai-bench --help` never imports numpy, LiteRT or adbutils."""

from __future__ import annotations

import importlib

import click

from mai_bench import __version__

# command name -> (module under mai_bench.cli, one-line help shown by `mai-bench --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Benchmark a model on the host CPU or an attached device."),
    "inspect": ("inspect", "Show a model's inputs, outputs, ops, parameters, size and MACs."),
    "check": ("check", "Pre-submission check: shapes, ops, GPU delegate support."),
    "parse": ("parse", "Parse a benchmark_model log into JSON."),
    "report": ("report", "Render result files as a table, Markdown, HTML, CSV or JSON."),
    "devices": ("devices", "List devices on one or more adb servers."),
    "emulate": ("emulate", "Start loopback devices that speak the ADB protocol."),
    "farm": ("farm", "Run a device farm plan: models x devices x delegates, thresholds, JUnit."),
    "binaries": ("binaries", "List, fetch and verify benchmark_model binaries for Android."),
    "baselines": ("baselines", "The challenge's published results (Table 1) and baselines."),
    "score": ("score", "The challenge score of a PSNR and a GPU runtime, and its rank."),
    "compare": ("compare", "Compare two sets of results: faster, slower, not significant..."),
    "metrics": ("metrics", "PSNR and SSIM of two RGB images, as the challenge computes them."),
    "eval": ("eval", "Fidelity of a model on RAW/RGB pairs on the host (PSNR, SSIM)."),
    "data": ("data", "Make demo data (synthetic RAW/RGB pairs in the challenge layout)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"mai_bench.cli.{COMMANDS[cmd_name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing uses the table above, so `--help` imports no subcommand.
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mai-bench")
def cli() -> None:
    """Benchmark learned camera ISP TFLite models the way the Mobile AI 2022 challenge did."""


def main() -> None:
    from mai_bench.cli.console import run_cli

    run_cli(cli)
if __name__ == "__main__":
    main()
