import dataclasses

import pytest

from rrgan.config import Config, ConfigError, preset


def test_presets_differ_and_tiny_is_small():
    tiny, base = preset("tiny"), preset("base")
    assert tiny.data.crop_size < base.data.crop_size
    assert tiny.model.generator_width < base.model.generator_width


def test_unknown_preset_is_named():
    with pytest.raises(ConfigError, match="huge"):
        preset("huge")


def test_json_round_trip(tmp_path):
    config = preset("tiny").override(["train.batch_size=3", "data.synthesis.recipes=ceilnet,dsrnet"])
    config.save(tmp_path / "config.json")
    loaded = Config.load(tmp_path / "config.json")
    assert loaded == config
    assert loaded.data.synthesis.recipes == ("ceilnet", "dsrnet")
    assert not list(tmp_path.glob("*.tmp"))


def test_overrides_parse_by_type():
    config = preset("base").override([
        "train.batch_size=5", "loss.pixel=0.5", "data.flip=false", "data.scale_range=0.5,2",
        "model.generator_dilations=(1, 2)", "loss.pixel_norm=mse"])
    assert config.train.batch_size == 5
    assert config.loss.pixel == 0.5
    assert config.data.flip is False
    assert config.data.scale_range == (0.5, 2.0)
    assert config.model.generator_dilations == (1, 2)
    assert config.loss.pixel_norm == "mse"
    assert preset("base").train.batch_size != 5  # the preset itself is untouched


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset("tiny").train.batch_size = 2


@pytest.mark.parametrize("assignment, message", [
    ("train.batchsize=8", "train.batchsize"),
    ("trian.batch_size=8", "trian.batch_size"),
    ("train.batch_size=eight", "train.batch_size"),
    ("train.batch_size=1.5", "train.batch_size"),
    ("data.flip=maybe", "data.flip"),
    ("data.scale_range=1,2,3", "data.scale_range"),
    ("data=1", "section"),
    ("train.batch_size", "section.key=value"),
    ("data.crop_size=2", "data.crop_size"),
    ("data.view_short_side=8,16", "data.view_short_side"),  # below the crop size
    ("data.view_short_side=600,400", "data.view_short_side"),
    ("data.reflection_view_short_side=8,16", "data.reflection_view_short_side"),
    ("data.synthesis.recipes=fancy", "recipes"),
    ("loss.adversarial_kind=wgan", "adversarial_kind"),
    ("loss.level_norm=l1", "loss.level_norm"),
    ("train.adversarial_phase=late", "adversarial_phase"),
    ("train.adversarial_phase=decay", "learning_rate_schedule='wsd'"),  # tiny decays by cosine
    ("model.attention_backbone=resnet", "model.attention_backbone"),
    ("model.attention_backbone=efficientnet_lite0 model.attention_backbone_stages=5", r"1\.\.4"),
    ("model.attention_backbone=hed model.attention_scale=3", "power of 2"),
    ("model.attention_backbone_tuned=true", "model.attention_backbone_tuned"),
])
def test_bad_overrides_name_the_key(assignment, message):
    with pytest.raises(ConfigError, match=message):
        preset("tiny").override(assignment.split())


def test_backbone_stages_join_the_generator_at_their_resolution():
    tiny = preset("tiny")  # generator_depth 2: levels at 1, 1/2 and the bottleneck at 1/4
    assert tiny.override(["model.backbone=hed"]).model.backbone_stages == 3  # blocks at 1, 1/2, 1/4
    assert preset("cpu").override(["model.backbone=efficientnet_lite0"]).model.backbone_stages == 3  # to 1/8
    with pytest.raises(ConfigError, match="bottleneck"):
        tiny.override(["model.backbone=efficientnet_lite0"])  # its third stage is at 1/8
    with pytest.raises(ConfigError, match=r"1\.\.4"):
        preset("base").override(["model.generator_depth=6", "model.backbone=efficientnet_lite0",
                                 "model.backbone_stages=5"])


def test_loading_unknown_or_mistyped_keys(tmp_path):
    values = preset("tiny").to_dict()
    values["train"]["warp_speed"] = 9
    with pytest.raises(ConfigError, match="train.warp_speed"):
        Config.from_dict(values)
    values = preset("tiny").to_dict()
    values["data"]["crop_size"] = "big"
    with pytest.raises(ConfigError, match="data.crop_size"):
        Config.from_dict(values)


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "batch_size", True, "expected an integer"),  # JSON true is not 1
    ("train", "batch_size", 4.5, "expected an integer"),
    ("train", "ema_decay", False, "expected a number"),
])
def test_loading_json_values_of_the_wrong_type(section, key, value, message):
    values = preset("tiny").to_dict()
    values[section][key] = value
    with pytest.raises(ConfigError, match=f"{section}.{key}: {message}"):
        Config.from_dict(values)


def test_loading_keeps_numbers_exact():
    values = preset("tiny").to_dict()
    values["train"]["batch_size"], values["train"]["ema_decay"] = 6, 1
    config = Config.from_dict(values)
    assert config.train.batch_size == 6 and type(config.train.batch_size) is int
    assert config.train.ema_decay == 1.0 and type(config.train.ema_decay) is float


def test_broken_config_file_is_named(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json"):
        Config.load(tmp_path / "broken.json")
