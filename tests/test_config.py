"""Config: defaults, TOML round trip, and a ConfigError naming the field for every bad value."""

import pytest

from ghostfpga.config import Config, ConfigError

BAD_VALUES = [
    ("layers", [4, 3]), ("layers", [4, 0, 3]), ("layers", [4, 30, 1]), ("layers", [4, 2.5, 3]),
    ("variant", "copied"), ("feedback", "mirror"), ("schedule", "fast"),
    ("beta", 0), ("beta", -0.1), ("beta", 2.0), ("beta", float("nan")), ("beta", "small"),
    ("alpha", 0), ("alpha", 1.5),
    ("steps", 0), ("steps", 2.5), ("free_steps", -1), ("settle_iterations", 0),
    ("lr", 0), ("lr", -0.05), ("lr", [0.05]), ("lr", [0.05, "x"]),
    ("lr_decay", 0), ("lr_decay", 1.2), ("lr_decay", [0.9, 0.9, 0.9]),
    ("ghost_lr", -1), ("ghost_rule", "fast"), ("ghost_warmup", -1), ("target_margin", 0.5), ("target_margin", -0.1), ("bias_init", 3), ("epochs", 0), ("epochs", True), ("seed", -1),
]


@pytest.mark.parametrize("name,value", BAD_VALUES)
def test_bad_field_raises_config_error_naming_it(name, value):
    with pytest.raises(ConfigError) as info:
        Config(**{name: value})
    assert info.value.field == name
    assert f"'{name}'" in str(info.value)
    assert repr(value) in str(info.value) or str(value) in str(info.value)


def test_every_field_has_a_bad_value_test():
    from dataclasses import fields
    assert {f.name for f in fields(Config)} - {"numerics", "hardware", "link"} == \
        {n for n, _ in BAD_VALUES}


@pytest.mark.parametrize("changes,field", [
    (dict(layers=(4, 10, 8, 3)), "variant"),     # one hidden layer only
    (dict(alpha=0.5), "alpha"),
    (dict(steps=4), "steps"),
    (dict(steps=20, alpha=0.5), "alpha"),
])
@pytest.mark.parametrize("variant", ["replay", "learned"])
def test_ghosts_fitted_to_the_free_state_refuse_dynamics_that_cannot_learn(variant, changes,
                                                                           field):
    """Replay and normalized learned ghosts learn under dynamics with one hidden layer,
    alpha = 1 and 3 steps only (docs/model.md); every other setting is refused with the
    reason. The constant rule is not restricted (it is the baseline that does not learn)."""
    base = dict(variant=variant, schedule="dynamics", alpha=1.0, steps=3)
    assert Config(**base).steps == 3
    with pytest.raises(ConfigError, match="loop|hidden layer") as info:
        Config(**(base | changes))
    assert info.value.field == field
    if variant == "learned":
        assert Config(**(base | changes), ghost_rule="constant").variant == "learned"


def test_scalars_broadcast_per_layer():
    c = Config(layers=(4, 20, 10, 3), lr=0.1, lr_decay=0.9)
    assert c.lr == (0.1, 0.1, 0.1) and c.lr_decay == (0.9, 0.9, 0.9)
    assert c.lr_at(2) == pytest.approx((0.1 * 0.81,) * 3)


def test_replace_with_deeper_layers_rebroadcasts_uniform_rates():
    c = Config().replace(layers=(4, 20, 20, 3))
    assert c.lr == (0.05,) * 3


def test_toml_round_trip(tmp_path):
    c = Config(layers=(4, 120, 3), variant="learned", feedback="random", schedule="dynamics",
               alpha=1.0, steps=3,
               lr=[0.05, 0.02], epochs=7, seed=3)
    path = tmp_path / "c.toml"
    c.save(path)
    assert Config.load(path) == c


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("layers = [4, 30, 3]\nbetta = 0.1\n")
    with pytest.raises(ConfigError, match="'betta' is not a known field"):
        Config.load(path)


def test_bad_value_in_file_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('variant = "nope"\n')
    with pytest.raises(ConfigError, match="'variant'"):
        Config.load(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        Config.load(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("layers = [4, 30\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load(bad)


def test_example_config_is_the_default():
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "examples" / "default.toml"
    assert Config.load(path) == Config()


SECTION_BAD_VALUES = [
    ("numerics", "rate_frac", 0), ("numerics", "rate_frac", 15), ("numerics", "error_frac", 20),
    ("numerics", "potential_bits", 10), ("numerics", "weight_bits", 17),
    ("numerics", "weight_frac", 16), ("numerics", "eta_bits", 0), ("numerics", "eta_frac", -1),
    ("numerics", "accumulator_bits", 4), ("numerics", "rounding", "truncate"),
    ("numerics", "lfsr_seed", 0), ("numerics", "lfsr_seed", 70000),
    ("hardware", "device", "xc7a35t"), ("hardware", "lanes", 0), ("hardware", "lanes", 9),
    ("hardware", "split_rows", "yes"), ("hardware", "rates_port", "yes"),
    ("hardware", "rates_port", 1), ("hardware", "inputs", "h"),
    ("hardware", "forward_drives", "yes"),
    ("link", "clock_mhz", 0), ("link", "baud", 2_999_000.5), ("link", "baud", 2_900_000),
    ("link", "baud", 12_000_000), ("link", "frames", 3), ("link", "store_samples", -1),
]


@pytest.mark.parametrize("section,name,value", SECTION_BAD_VALUES)
def test_bad_section_field_is_named(tmp_path, section, name, value):
    path = tmp_path / "c.toml"
    import tomli_w
    path.write_text(tomli_w.dumps({section: {name: value}}))
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    assert info.value.field == f"{section}.{name}"


def test_every_section_field_has_a_bad_value_test():
    from dataclasses import fields

    from ghostfpga.config import Hardware, Link, Numerics
    for section, cls in (("numerics", Numerics), ("hardware", Hardware), ("link", Link)):
        assert {f.name for f in fields(cls)} == {n for s, n, _ in SECTION_BAD_VALUES
                                                 if s == section}


def test_unknown_section_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[hardware]\nlane = 4\n")
    with pytest.raises(ConfigError, match="'hardware.lane' is not a known field"):
        Config.load(path)


def test_lanes_up_to_the_ecp5_multipliers(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[hardware]\ndevice = "ecp5-85f"\nlanes = 64\n')
    assert Config.load(path).hardware.lanes == 64
