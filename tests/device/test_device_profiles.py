"""SoC profiles: the shipped set loads, bad files are refused with the file and key named, and every recorded
getprop listing matches the profile its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from mai_bench.device.profiles import (
    explain_match,
    get_profile,
    load_profile,
    load_profiles,
    match_profile,
    normalise_soc_model,
)
from mai_bench.device.props import parse_getprop
from mai_bench.errors import UsageError

GETPROP = Path(__file__).resolve().parents[1] / "fixtures" / "getprop"

EXPECTED = {
    "sm8450_galaxy_s22_sm-s901u": "sm8450",
    "sm8450_xiaomi_12_2201123g": "sm8450",
    "sm8475_xiaomi_12s_ultra_2203121c": "sm8475",
    "sm8550_galaxy_s23_sm-s911b": "sm8550",
    "sm8650_xiaomi_14_23127pn0cc": "sm8650",
    "sm8750_galaxy_s25_sm-s931b": "sm8750",
    "mt6983_xiaomi_12_pro_dimensity_22081212c": "mt6983",
    "mt6875_redmi_10x_pro_m2004j7bc": None,
    "s5e9925_galaxy_s22_sm-s901b": "s5e9925",
    "gs201_pixel_7": "gs201",
}

# Profiles without a recorded getprop listing, with the values their phones report: ro.soc.model (Android 12+)
# as each SoC's profile lists it, ro.board.platform as the device trees set TARGET_BOARD_PLATFORM.
REPORTED = {
    "msmnile": {"ro.soc.model": "SM8150", "ro.board.platform": "msmnile", "ro.hardware": "qcom"},
    "kona": {"ro.soc.model": "SM8250", "ro.board.platform": "kona", "ro.hardware": "qcom"},
    "lahaina": {"ro.soc.model": "SM8350", "ro.board.platform": "lahaina", "ro.hardware": "qcom"},
    "mt6985": {"ro.soc.model": "MT6985", "ro.board.platform": "mt6985", "ro.hardware": "mt6985"},
    "mt6989": {"ro.soc.model": "MT6989", "ro.board.platform": "mt6989", "ro.hardware": "mt6989"},
    "zuma": {"ro.soc.model": "Tensor G3", "ro.board.platform": "zuma", "ro.hardware": "husky"},
    "zumapro": {"ro.soc.model": "Tensor G4", "ro.board.platform": "zumapro", "ro.hardware": "tokay"},
}

MINIMAL = """\
name: {name}
display_name: Test SoC
match:
  soc_model: [TEST1]
gpu: Test GPU
delegates: [gpu, cpu]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_recorded_listing_matches_its_profile():
    profiles = load_profiles()
    assert sorted(p.stem for p in GETPROP.glob("*.txt")) == sorted(EXPECTED)
    for stem, expected in EXPECTED.items():
        props = parse_getprop((GETPROP / f"{stem}.txt").read_text())
        found = match_profile(props, profiles)
        assert (found.name if found else None) == expected, stem


def test_every_profile_but_mt6875_is_matched_by_a_recording_or_its_reported_values():
    # mt6875 phones never report ro.soc.model (see its caveat); its rule is checked with a synthetic set below
    profiles = load_profiles()
    matched = {v for v in EXPECTED.values() if v}
    assert set(profiles) - matched == {"mt6875", "loopback-sm8450", *REPORTED}
    assert match_profile({"ro.soc.model": "MT6875", "ro.board.platform": "mt6873"}).name == "mt6875"
    for name, props in REPORTED.items():
        assert match_profile(props, profiles).name == name
        # before Android 12 there is no ro.soc.model: the board platform decides, as the most specific one
        without = {k: v for k, v in props.items() if k != "ro.soc.model"}
        found = explain_match(without, profiles)
        assert found.profile.name == name and found.key == "ro.board.platform" and not found.fallback


def test_new_profiles_carry_their_facts_and_sources():
    profiles = load_profiles()
    gpus = {"msmnile": "Adreno 640", "kona": "Adreno 650", "lahaina": "Adreno 660",
            "mt6985": "Immortalis-G715 MC11", "mt6989": "Immortalis-G720 MC12", "zuma": "Mali-G715",
            "zumapro": "Mali-G715"}
    cores = {"msmnile": "Cortex-A76", "kona": "Cortex-A77", "lahaina": "Cortex-X1", "mt6985": "Cortex-X3",
             "mt6989": "Cortex-X4", "zuma": "Cortex-X3", "zumapro": "Cortex-X4"}
    families = {"msmnile": "qualcomm", "kona": "qualcomm", "lahaina": "qualcomm", "mt6985": "mediatek",
                "mt6989": "mediatek", "zuma": "google-tensor", "zumapro": "google-tensor"}
    for name in REPORTED:
        profile = profiles[name]
        assert gpus[name] in profile.gpu and cores[name] in profile.cpu, name
        assert profile.family == families[name] and profile.sources, name
        assert {"gpu", "xnnpack", "cpu"} <= set(profile.delegates), name
        assert profile.to_dict()["sources"] == list(profile.sources)


def test_shipped_set_has_the_challenge_baselines_only_on_sm8450():
    profiles = load_profiles()
    sm8450 = profiles["sm8450"]
    runtimes = {(b.model, b.delegate): b.runtime_ms for b in sm8450.baselines}
    assert runtimes == {
        ("MicroISP 1.0", "gpu"): 23.1, ("MicroISP 0.5", "gpu"): 15.6, ("PyNET-V2 Mobile", "gpu"): 194,
        ("MicroISP 1.0", "cpu"): 973, ("MicroISP 0.5", "cpu"): 503, ("PyNET-V2 Mobile", "cpu"): 8342,
    }
    assert {b.source for b in sm8450.baselines} == {"Mobile AI 2022 Learned Smartphone ISP challenge report, Table 1"}
    assert [p.name for p in profiles.values() if p.baselines] == ["sm8450"]
    # the Hexagon delegate's list ends at Hexagon 690 (Snapdragon 855): not the 865 and newer DSPs
    assert [p.name for p in profiles.values() if "hexagon" in p.delegates] == ["msmnile"]


def test_most_specific_property_decides():
    profiles = load_profiles()
    # taro alone is SM8450 or SM8475: ambiguous, so no guess
    assert match_profile({"ro.board.platform": "taro", "ro.hardware": "qcom"}, profiles) is None
    # a soc model no profile lists falls back to the board platform, which must still be unambiguous
    assert match_profile({"ro.soc.model": "SM8435", "ro.board.platform": "taro"}, profiles) is None
    # case does not matter; an empty soc model counts as absent
    assert match_profile({"ro.soc.model": "sm8550"}, profiles).name == "sm8550"
    assert match_profile({"ro.soc.model": " ", "ro.board.platform": "kalama"}, profiles).name == "sm8550"
    assert match_profile({}, profiles) is None


def test_loopback_matches_only_the_emulated_profile_and_answers_to_sm8450():
    profiles = load_profiles()
    loopback = profiles["loopback-sm8450"]
    props = {**loopback.emulator.props, "mai_bench.emulated": "1"}
    assert match_profile(props, profiles).name == "loopback-sm8450"
    assert match_profile({**props, "mai_bench.emulated": "0"}, profiles).name == "sm8450"
    assert loopback.answers_to("sm8450") and loopback.answers_to("loopback-sm8450")
    assert not profiles["sm8450"].answers_to("loopback-sm8450")
    assert loopback.preinstalled_binary == "/system/bin/benchmark_model"
    assert loopback.emulated and loopback.emulator.cpu_max_freqs


def test_get_profile_names_the_known_ones():
    assert get_profile("SM8450").name == "sm8450"
    with pytest.raises(UsageError) as error:
        get_profile("sm9999")
    assert "sm9999" in error.value.message and "sm8450" in error.value.fix


def test_minimal_profile_loads(tmp_path):
    profile = load_profile(write(tmp_path, "test1", MINIMAL.format(name="test1")))
    assert profile.delegates == ("gpu", "cpu") and profile.npu is None and profile.baselines == ()
    assert profile.match.soc_model == ("TEST1",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (MINIMAL.format(name="bad") + "colour: red\n", "unknown key 'colour'"),
        (MINIMAL.format(name="bad").replace("soc_model", "soc_modle"), "unknown key 'soc_modle'"),
        (MINIMAL.format(name="bad").replace("gpu: Test GPU", "gpu: [1, 2]"), "gpu"),
        (MINIMAL.format(name="bad").replace("[gpu, cpu]", "gpu"), "delegates: expected a list"),
        (MINIMAL.format(name="bad").replace("[gpu, cpu]", "[gpu, tpu]"), "delegates must be"),
        (MINIMAL.format(name="bad") + "emulated: yes please\n", "emulated: expected true or false"),
        (MINIMAL.format(name="bad") + "baselines:\n  - {model: X, delegate: gpu, runtime_ms: fast, source: S}\n",
         "baselines[0].runtime_ms"),
        (MINIMAL.format(name="bad") + "baselines:\n  - {model: X, delegate: gpu, runtime_ms: 1}\n",
         "missing key 'source'"),
        (MINIMAL.format(name="bad") + "baselines:\n  - {model: X, delegate: gpu, runtime_ms: -1, source: S}\n",
         "must be positive"),
        (MINIMAL.format(name="other"), "differs from the file name"),
        (MINIMAL.format(name="bad").replace("  soc_model: [TEST1]\n", "  {}\n"), "at least one match rule"),
        (MINIMAL.format(name="bad") + "emulates: sm8450\n", "only an emulated profile"),
        (MINIMAL.format(name="bad") + "emulated: true\n", "needs an `emulator` section"),
        ("- just\n- a list\n", "expected a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_profiles_are_refused_naming_file_and_key(tmp_path, text, needle):
    path = write(tmp_path, "bad", text)
    with pytest.raises(UsageError) as error:
        load_profile(path)
    assert needle in error.value.message
    assert str(path) in error.value.message
    assert error.value.fix


def test_python_object_tags_are_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    text = MINIMAL.format(name="evil") + f"npu: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(UsageError) as error:
        load_profile(write(tmp_path, "evil", text))
    assert "not valid YAML" in error.value.message
    assert not marker.exists()


def test_the_set_is_checked_as_a_whole(tmp_path):
    write(tmp_path, "one", MINIMAL.format(name="one"))
    write(tmp_path, "two", MINIMAL.format(name="two"))
    with pytest.raises(UsageError, match="both match ro.soc.model=TEST1"):
        load_profiles(tmp_path)
    (tmp_path / "two.yaml").unlink()
    emulated = (MINIMAL.format(name="emu") + "emulated: true\nemulates: nothing\nemulator:\n  props: {a: b}\n")
    write(tmp_path, "emu", emulated)
    with pytest.raises(UsageError, match="emulates 'nothing', which has no profile"):
        load_profiles(tmp_path)


def test_emulator_section_is_the_loopback_spec_schema():
    section = load_profiles()["loopback-sm8450"].emulator.to_dict()
    assert set(section) == {"props", "thermal", "battery_temp", "battery_status", "cpu_max_freqs"}
    assert all(isinstance(v, str) for v in section["props"].values())
    assert section["props"]["ro.soc.model"] == "SM8450"


@pytest.mark.parametrize(("reported", "normalised"), [
    ("MT6833V/NZA", "MT6833"), ("MT6985W/CZA", "MT6985"), ("mt6989", "MT6989"), (" MT6983 ", "MT6983"),
    ("SM8350", "SM8350"), ("Tensor G3", "TENSOR G3"), ("s5e9925", "S5E9925"),
])
def test_soc_models_are_normalised(reported, normalised):
    assert normalise_soc_model(reported) == normalised


def test_mediatek_model_strings_match_their_profile():
    profiles = load_profiles()
    found = explain_match({"ro.soc.model": "MT6985W/CZA", "ro.board.platform": "mt6985"}, profiles)
    assert found.profile.name == "mt6985" and found.key == "ro.soc.model" and not found.fallback
    assert match_profile({"ro.soc.model": "mt6989"}, profiles).name == "mt6989"


def test_mediatek_normalisation_against_a_profile_listing_the_short_model(tmp_path):
    write(tmp_path, "mt6833", MINIMAL.format(name="mt6833").replace("TEST1", "MT6833"))
    assert match_profile({"ro.soc.model": "MT6833V/NZA"}, load_profiles(tmp_path)).name == "mt6833"


def test_an_unlisted_soc_model_falls_back_to_the_board_platform_and_says_so():
    profiles = load_profiles()
    found = explain_match({"ro.soc.model": "Snapdragon 888", "ro.board.platform": "lahaina"}, profiles)
    assert found.profile.name == "lahaina" and found.fallback
    assert found.describe() == "ro.board.platform=lahaina (ro.soc.model=Snapdragon 888: in no profile)"
    # a Pixel 7 whose build names the SoC "Tensor G2", not GS201: its board platform decides
    assert match_profile({"ro.soc.model": "Tensor G2", "ro.board.platform": "gs201", "ro.hardware": "panther"},
                         profiles).name == "gs201"
    # neither soc model nor board platform listed: ro.hardware decides
    found = explain_match({"ro.soc.model": "unknown", "ro.board.platform": "x", "ro.hardware": "mt6989"}, profiles)
    assert found.profile.name == "mt6989" and found.passed_over == ("ro.soc.model=unknown", "ro.board.platform=x")


def test_another_chip_on_a_shared_platform_does_not_get_its_profile():
    profiles = load_profiles()
    # A Snapdragon 778G reports SM7325 on a "lahaina" board: a chip code of the SM8350's form, so another chip.
    assert match_profile({"ro.soc.model": "SM7325", "ro.board.platform": "lahaina"}, profiles) is None
    assert match_profile({"ro.soc.model": "MT6877", "ro.board.platform": "mt6985"}, profiles) is None
    assert match_profile({"ro.soc.model": "SM7325", "ro.board.platform": "kalama"}, profiles) is None


def test_profile_family_must_exist(tmp_path):
    write(tmp_path, "one", MINIMAL.format(name="one") + "family: nokia\n")
    with pytest.raises(UsageError) as error:
        load_profiles(tmp_path)
    assert "family 'nokia'" in error.value.message and str(tmp_path / "one.yaml") in error.value.message
    assert "qualcomm" in error.value.fix and "generic" in error.value.fix


def test_a_profiles_folder_may_bring_its_own_families(tmp_path):
    families = tmp_path / "families"
    families.mkdir()
    (families / "generic.yaml").write_text("name: generic\ndisplay_name: G\nthermal:\n  cpu: [core*]\n")
    (families / "acme.yaml").write_text("name: acme\ndisplay_name: Acme\nthermal:\n  cpu: [hot*]\n  ignore: [amps]\n")
    write(tmp_path, "one", MINIMAL.format(name="one") + "family: acme\n")
    from mai_bench.device.profiles import load_families, load_family, sensor_rules

    profile = load_profiles(tmp_path)["one"]
    rules = sensor_rules(profile, load_families(families))
    assert rules.kind_of("hotspot") == "cpu" and rules.kind_of("amps") is None and rules.kind_of("core0") == "other"
    (families / "bad.yaml").write_text("name: bad\ndisplay_name: B\nthermal:\n  cpus: [x]\n")
    with pytest.raises(UsageError, match="unknown key 'cpus'") as error:
        load_family(families / "bad.yaml")
    assert "cpu" in error.value.fix
