"""The pure SMS rules: numbers, templates, quiet hours, opt-out words, back-off."""
from datetime import datetime, time, timezone

import pytest

from callcenter.sms import policy

UTC = timezone.utc


@pytest.mark.parametrize("typed, expected", [
    ("13812341234", "13812341234"), ("138 1234 1234", "13812341234"), ("+86 138-1234-1234", "13812341234"),
    ("008613812341234", "13812341234"), ("057487654321", None), ("12812341234", None), ("", None), (None, None),
])
def test_mobile_accepts_mainland_mobiles_in_typed_forms_and_refuses_landlines(typed, expected):
    assert policy.mobile(typed) == expected


def test_templates_exist_in_chinese_and_english_for_every_kind():
    for kind in policy.KINDS:
        data = {"number": "202612070001", "link": "http://x/track/1", "summary": "已修复", "code": "123456",
                "minutes": 10}
        zh = policy.render(kind, "zh", **data)
        en = policy.render(kind, "en", **data)
        assert zh.startswith("【12345热线】") and en.startswith("[12345 Hotline]")
        assert ("123456" in zh) == (kind == "code")


def test_replied_template_shortens_a_long_reply_and_keeps_the_rating_link():
    text = policy.render("replied", "zh", number="1", summary="很长的答复" * 40, link="http://h/track/1?rate=1")
    assert "…" in text and text.endswith("请评价办理结果：http://h/track/1?rate=1 回TD退订")


def test_render_refuses_unknown_language():
    with pytest.raises(policy.SmsRuleError):
        policy.render("accepted", "fr", number="1", link="x")


@pytest.mark.parametrize("reply, word", [("TD", "TD"), (" td ", "TD"), ("退订", "退订"), ("stop", "STOP"),
                                         ("KT", "KT"), ("谢谢", None), ("", None), (None, None)])
def test_opt_out_words_are_recognised_whatever_the_case(reply, word):
    assert policy.opt_out_word(reply) == word


def test_quiet_hours_hold_a_night_message_until_eight_in_shanghai():
    quiet = policy.QuietHours()
    night = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)        # 23:30 in Shanghai
    assert quiet.release(night) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # 08:00 next morning
    early = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)         # 06:00 next day local
    assert quiet.release(early) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    day = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)             # 11:00 local
    assert quiet.release(day) == day


def test_urgent_messages_ignore_quiet_hours():
    night = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    assert policy.QuietHours().release(night, urgent=True) == night


def test_quiet_hours_parse_refuses_a_bad_time():
    with pytest.raises(policy.SmsRuleError):
        policy.QuietHours.parse("25:00", "08:00")
    assert policy.QuietHours.parse("22:00", "07:30").end == time(7, 30)


def test_retry_delay_doubles_up_to_the_ceiling():
    assert [policy.retry_delay(n, 30, 200) for n in (1, 2, 3, 4)] == [30, 60, 120, 200]
