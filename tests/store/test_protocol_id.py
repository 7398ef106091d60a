"""The protocol id groups barriers that may be ranked together: what is recorded but not hashed stays out of it."""

from __future__ import annotations

from seiscreen.results import protocol_id

BEFORE = {"calculator": {"name": "chgnet", "code": "chgnet", "package_version": "0.3.0"},
          "minima_settings": {"adsorbate": "Na", "fmax": 0.01}, "neb_protocol": {"n_images": 5},
          "created_at": "2026-12-06T14:57:13+00:00"}


def test_the_device_and_the_package_version_are_not_part_of_the_protocol():
    now = {**BEFORE, "calculator": {**BEFORE["calculator"], "device": "cpu", "package_version": "0.3.1"}}
    assert protocol_id(now) == protocol_id(BEFORE)


def test_a_call_saving_search_field_left_off_is_the_search_before_it_existed():
    off = {**BEFORE, "minima_settings": {**BEFORE["minima_settings"], "stop_in_known_basin": False,
                                         "lowest_start_first": False}}
    on = {**BEFORE, "minima_settings": {**BEFORE["minima_settings"], "stop_in_known_basin": True}}
    assert protocol_id(off) == protocol_id(BEFORE)
    assert protocol_id(on) != protocol_id(BEFORE)  # another search: not ranked with the old one


def test_settings_that_change_numbers_change_the_protocol():
    assert protocol_id({**BEFORE, "neb_protocol": {"n_images": 7}}) != protocol_id(BEFORE)
    assert protocol_id({**BEFORE, "calculator": {**BEFORE["calculator"], "name": "sevennet"}}) != protocol_id(BEFORE)
