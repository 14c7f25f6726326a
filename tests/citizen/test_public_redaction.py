"""The public Open311 view's text rule (issue 22 item 5): numbers, names and doors hidden."""
from callcenter.personal_data import redact_public


def test_phone_numbers_in_public_text_are_masked():
    assert redact_public("请回电13812345678或0574-87654321") == "请回电138****5678或0574-****4321"


def test_the_callers_name_and_introduced_names_are_masked():
    assert redact_public("张三丰反映噪音", names=["张三丰"]) == "张**反映噪音"
    assert redact_public("我叫李四，楼下噪音") == "我叫李*，楼下噪音"
    assert redact_public("my name is John Smith") == "my name is J*** S****"


def test_house_building_and_flat_numbers_are_hidden_but_the_street_stays():
    assert redact_public("中山西路88号3幢2单元501室门口") == "中山西路**号*幢*单元***室门口"
    assert redact_public("Room 501, No. 12 Zhongshan Rd") == "Room ***, No. ** Zhongshan Rd"


def test_text_without_personal_data_is_unchanged():
    text = "中山西路的路灯晚上不亮，已经三天了"
    assert redact_public(text) == text
