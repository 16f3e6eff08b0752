"""One number comparison for every engine and check (`service.core.numbers.same_number` / `same_value`)."""

from service.core.numbers import same_number, same_value


def test_a_sum_of_scores_equals_its_stated_total_despite_float_rounding():
    assert same_number(sum([9.85, 20.1, 30.05, 25.0, 4.9]), 89.9)
    assert same_number(sum([0.1] * 10), 1)


def test_two_amounts_in_wan_yuan_a_cent_apart_are_different_numbers():
    assert not same_number(2946.602828, 2946.602829)
    assert not same_number(100, 100.01)


def test_only_numbers_compare_as_numbers():
    assert not same_number(None, None) and not same_number(True, 1) and not same_number("5", 5)
    assert same_value("衡山县岭坡乡人民政府", "衡山县岭坡乡人民政府") and same_value(5, 5.0)
    assert not same_value("5.0", 5) and not same_value(None, 0)
    assert not same_value(None, "None") and same_value(None, None)
