import pytest

from utility.compression import (
    CompressionSettings,
    SettingsError,
    from_env,
    get_compression_settings,
    parse_bool,
)


def test_defaults_follow_the_checklist() -> None:
    assert from_env({}) == CompressionSettings(quality=85, format="webp", lossless=False, workers=0)


def test_values_are_read_case_insensitively() -> None:
    settings = from_env(
        {
            "PIXCRAWLER_UTILITY_COMPRESSION__QUALITY": "70",
            "pixcrawler_utility_compression__format": "avif",
            "PIXCRAWLER_UTILITY_COMPRESSION__LOSSLESS": "true",
            "PIXCRAWLER_UTILITY_COMPRESSION__WORKERS": "4",
            "UNRELATED": "x",
        }
    )
    assert settings == CompressionSettings(quality=70, format="avif", lossless=True, workers=4)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QUALITY", "101", "quality must be 0-100"),
        ("QUALITY", "high", "quality must be an integer"),
        ("FORMAT", "WEBP", "format must be one of"),
        ("WORKERS", "-1", "workers must be >= 0"),
        ("LOSSLESS", "maybe", "not a boolean"),
    ],
)
def test_invalid_values_are_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_env({f"PIXCRAWLER_UTILITY_COMPRESSION__{name}": value})


def test_parse_bool_false_words() -> None:
    assert parse_bool(" Off ") is False


def test_the_older_ways_still_work_and_the_nested_variables_win(monkeypatch) -> None:
    assert from_env({"QUALITY": "60", "format": "png"}) == CompressionSettings(60, "png")
    group = '{"quality": 70, "lossless": true}'
    assert from_env({"PIXCRAWLER_UTILITY_COMPRESSION": group, "QUALITY": "60"}) == (
        CompressionSettings(quality=70, lossless=True)
    )
    assert (
        from_env(
            {
                "PIXCRAWLER_UTILITY_COMPRESSION": group,
                "PIXCRAWLER_UTILITY_COMPRESSION__QUALITY": "90",
            }
        ).quality
        == 90
    )
    monkeypatch.setenv("PIXCRAWLER_UTILITY_COMPRESSION__WORKERS", "3")
    assert get_compression_settings().workers == 3


@pytest.mark.parametrize("text", ["{quality", "[70]"])
def test_a_group_that_is_not_a_json_object_is_refused(text: str) -> None:
    with pytest.raises(SettingsError, match="PIXCRAWLER_UTILITY_COMPRESSION"):
        from_env({"PIXCRAWLER_UTILITY_COMPRESSION": text})
