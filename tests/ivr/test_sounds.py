"""Every sound the hotline can play is in one list, rendered by `ivr prompts build`, named as
Asterisk sees it, and checked at start (:mod:`ivr.sounds`)."""
from __future__ import annotations

import pytest

from callcenter.config import load_config
from callcenter.routing.announce import QUEUE_PROMPTS
from ivr.library import FlowLibrary
from ivr.sounds import (
    SoundsConfigError, check_pbx_sounds_dir, missing_sounds, missing_sounds_for, pbx_sound, sound_entries,
)


def test_the_sound_list_has_flow_prompts_rating_survey_and_every_queue_announcement():
    names = {entry.name for entry in sound_entries()}
    for name in QUEUE_PROMPTS:
        assert {f"queue/zh/{name}", f"queue/en/{name}"} <= names
    flows = FlowLibrary().flows
    assert {"hotline", "rating", "survey"} <= set(flows)
    assert {"hotline/zh/welcome", "rating/zh/rate", "survey/zh/rate"} <= names
    assert len(names) == len(sound_entries())  # each sound once


def test_missing_sounds_names_each_absent_file_until_all_are_rendered(pbx_sounds):
    sounds = pbx_sounds / "hotline"
    assert missing_sounds(sounds) == []
    (sounds / "queue" / "zh" / "queue_all_busy.wav").unlink()
    empty = sounds / "survey" / "en" / "rate.wav"
    empty.unlink()                 # a hard link to the session's rendering: replace it, never truncate it
    empty.write_bytes(b"")         # an empty file plays nothing either
    assert missing_sounds(sounds) == ["queue/zh/queue_all_busy", "survey/en/rate"]


def test_missing_sounds_for_reads_the_service_configuration(tmp_path, pbx_sounds):
    cfg = load_config(None, environ={}).with_overrides({"ivr.sounds_dir": str(tmp_path / "empty")})
    missing = missing_sounds_for(cfg)
    assert "queue/zh/queue_callback_offer" in missing and "hotline/zh/welcome" in missing
    assert len(missing) == len(sound_entries())
    assert missing_sounds_for(cfg.with_overrides({"ivr.sounds_dir": str(pbx_sounds / "hotline")})) == []


@pytest.mark.parametrize("value", ["/var/lib/asterisk/sounds/hotline", "../hotline", "hot line", "a/../../b"])
def test_pbx_sounds_dir_must_be_relative_to_asterisks_sounds_directory(value):
    with pytest.raises(SoundsConfigError) as info:
        check_pbx_sounds_dir(value)
    assert info.value.error_id == "ivr.sounds.bad_pbx_sounds_dir"


def test_sounds_are_named_as_asterisk_sees_them():
    assert check_pbx_sounds_dir("") == "hotline" and check_pbx_sounds_dir("custom/prompts/") == "custom/prompts"
    assert pbx_sound("hotline", "queue/zh/queue_wait") == "hotline/queue/zh/queue_wait"


def test_the_start_up_check_refuses_naming_the_missing_queue_announcement(pbx_sounds):
    """`callcenter check` and `serve` (which runs it first) fail on any sound the hotline may play,
    queue announcements included, and name them."""
    from callcenter.preflight import check_prompts

    cfg = load_config(None, environ={}).with_overrides({"ivr.sounds_dir": str(pbx_sounds / "hotline")})
    assert not check_prompts(cfg).failed
    (pbx_sounds / "hotline" / "queue" / "en" / "queue_callback_offer.wav").unlink()
    result = check_prompts(cfg)
    assert result.failed and "queue/en/queue_callback_offer.wav" in result.detail
    assert "callcenter ivr prompts build" in result.fix
