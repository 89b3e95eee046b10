"""The published Table 1 (with Table 2's MOS) as package data, the challenge score and its rank, and the
`baselines` and `score` commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mai_bench.baselines import (DELEGATE, PROFILE, TABLE1_FILE, TABLE2_FILE, baseline_models, published_for,
                                 table1)
from mai_bench.errors import UsageError
from mai_bench.score import C, challenge_score, equal_score_psnr, place

# Table 1 exactly as printed in the report: team, size MB, PSNR, SSIM, CPU ms, GPU ms, Final Score.
PRINTED = [
    ("MiAlgo", 0.014, 23.33, 0.8516, 135, 6.8, "14.87"),
    ("ENERZai", 0.077, 23.8, 0.8652, 208, 18.9, "10.27"),
    ("HITZST01", 0.060, 23.89, 0.8666, 712, 34.3, "6.41"),
    ("MINCHO", 0.067, 23.65, 0.8658, 886, 41.5, "3.8"),
    ("ENERZai", 4.5, 24.08, 0.8778, 45956, 212, "1.35"),
    ("HITZST01", 1.2, 24.09, 0.8667, 4694, 482, "0.6"),
    ("JMU-CVLab", 0.041, 23.22, 0.8281, 3487, 182, "0.48"),
    ("rainbow", 1.0, 21.66, 0.8399, 277, 28, "0.36"),
    ("CASIA 1st", 205, 24.09, 0.884, 14792, 1044, "0.28"),
    ("MiAlgo", 117, 23.65, 0.8673, 15448, 1164, "0.14"),
    ("DANN-ISP", 29.4, 23.1, 0.8648, 97333, 583, "0.13"),
    ("Multimedia", 0.029, 23.96, 0.8543, 293, 11.4, "21.24"),
    ("MicroISP 1.0", 0.152, 23.87, 0.8530, 973, 23.1, "9.25"),
    ("MicroISP 0.5", 0.077, 23.60, 0.8460, 503, 15.6, "9.43"),
    ("PyNET-V2 Mobile", 3.6, 24.72, 0.8783, 8342, 194, "3.58"),
]
# Table 2: (team, size MB) -> MOS
MOS = {("HITZST01", 1.2): 3.1, ("ENERZai", 4.5): 3.1, ("CASIA 1st", 205): 3.0, ("Multimedia", 0.029): 3.0,
       ("HITZST01", 0.060): 3.0, ("MINCHO", 0.067): 3.0, ("ENERZai", 0.077): 2.8, ("DANN-ISP", 29.4): 2.8,
       ("MiAlgo", 0.014): 2.5, ("JMU-CVLab", 0.041): 2.3, ("MiAlgo", 117): 2.2}


def mai_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mai_bench.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def test_table1_has_all_15_rows_as_printed() -> None:
    entries = table1()
    assert len(entries) == 15
    got = [(e.team, e.size_mb, e.psnr, e.ssim, e.cpu_ms, e.gpu_ms, e.score) for e in entries]
    assert got == [(t, s, p, q, c, g, float(score)) for t, s, p, q, c, g, score in PRINTED]
    assert [e.team for e in baseline_models()] == ["MicroISP 1.0", "MicroISP 0.5", "PyNET-V2 Mobile"]
    assert all(e.author == "Baseline" for e in baseline_models())
    assert len({e.label for e in entries}) == 15, "labels must tell apart a team's two submissions"


def test_table2_mos_joins_exactly_the_rows_it_names() -> None:
    got = {(e.team, e.size_mb): e.mos for e in table1() if e.mos is not None}
    assert got == MOS
    assert all(e.mos is None for e in table1() if (e.team, e.size_mb) not in MOS)


def test_data_files_name_their_source() -> None:
    for path in (TABLE1_FILE, TABLE2_FILE):
        header = path.read_text(encoding="utf-8").splitlines()[:3]
        assert any("Learned Smartphone ISP on Mobile GPUs" in line and "arXiv:2211.03885" in line
                   for line in header), path
    multimedia = next(e for e in table1() if e.team == "Multimedia")
    assert "corrupted weights" in multimedia.note


def test_published_numbers_hold_only_for_the_sm8450_gpu() -> None:
    assert (PROFILE, DELEGATE) == ("sm8450", "gpu")
    assert published_for("sm8450", "gpu") == table1()
    assert published_for("sm8450", "cpu") == ()
    assert published_for("sm8550", "gpu") == ()
    assert published_for(None, "gpu") == ()


@pytest.mark.parametrize("row", PRINTED, ids=[f"{r[0]}-{r[1]}" for r in PRINTED])
def test_score_reproduces_every_final_score_to_its_printed_precision(row) -> None:
    _, _, psnr, _, _, gpu_ms, printed = row
    decimals = len(printed.split(".")[1])
    assert f"{challenge_score(psnr, gpu_ms):.{decimals}f}" == f"{float(printed):.{decimals}f}"


def test_score_formula_constant_and_inverse() -> None:
    assert C == 2 ** 40
    assert challenge_score(20.0, 1.0) == pytest.approx(1.0)  # 2^40 / 2^40
    for score, runtime in ((9.25, 23.1), (0.1, 1000.0), (30.0, 2.5)):
        assert challenge_score(equal_score_psnr(score, runtime), runtime) == pytest.approx(score)


def test_place_ranks_among_table1() -> None:
    best = place(30.0, 1.0)
    assert (best.rank, best.of, best.above) == (1, 16, None)
    assert best.below.team == "Multimedia"
    worst = place(20.0, 10000.0)
    assert (worst.rank, worst.below) == (16, None)
    assert worst.above.team == "DANN-ISP"  # the lowest score: 0.126 (MiAlgo's 117 MB model: 0.135)
    mialgo = place(23.33, 6.8)  # MiAlgo's own numbers tie with it: a tie ranks ahead
    assert mialgo.rank == 2 and mialgo.above.team == "Multimedia" and mialgo.below.team == "MiAlgo"
    assert round(mialgo.score, 2) == 14.87


@pytest.mark.parametrize("psnr, runtime", [(23.0, 0.0), (23.0, -5.0), (0.0, 10.0), (float("nan"), 10.0),
                                           (23.0, float("inf"))])
def test_place_refuses_impossible_inputs(psnr, runtime) -> None:
    with pytest.raises(UsageError):
        place(psnr, runtime)


def test_baselines_command_json() -> None:
    proc = mai_bench("baselines", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["profile"] == "sm8450" and data["delegate"] == "gpu" and "arXiv:2211.03885" in data["source"]
    assert len(data["entries"]) == 15
    first = data["entries"][0]
    assert (first["team"], first["gpu_ms"], first["score"], first["mos"]) == ("MiAlgo", 6.8, 14.87, 2.5)
    assert sum(e["baseline"] for e in data["entries"]) == 3


def test_baselines_command_table() -> None:
    proc = mai_bench("baselines")
    assert proc.returncode == 0, proc.stderr
    for text in ("MicroISP 1.0", "PyNET-V2 Mobile", "21.24", "SM8450", "arXiv:2211.03885"):
        assert text in proc.stdout


def test_score_command() -> None:
    proc = mai_bench("score", "--psnr", "23.87", "--runtime-ms", "23.1", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert round(data["score"], 2) == 9.25 and data["rank"] == 5 and data["of"] == 16
    assert data["above"]["team"] == "MicroISP 0.5" and data["below"]["team"] == "MicroISP 1.0"
    text = mai_bench("score", "--psnr", "23.87", "--runtime-ms", "23.1")
    assert text.returncode == 0 and "9.25" in text.stdout and "rank 5 of 16" in text.stdout


def test_score_command_user_error_is_one_line_and_exit_2() -> None:
    proc = mai_bench("score", "--psnr", "23.87", "--runtime-ms", "0")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--runtime-ms" in proc.stderr
