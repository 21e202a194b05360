"""Name keys: one Malian name, however it was written, gives one key."""

from __future__ import annotations

import pytest

from appliance.patients import normalize

SAME_NAME = [
    ("Traoré", "TRAORE"), ("Traoré", "Tarawelé"), ("Coulibaly", "Kulibali"), ("Coulibaly", "Kouloubaly"),
    ("Keïta", "Keita"), ("Keïta", "Keyita"), ("Diarra", "Jara"), ("Touré", "Toure"), ("Sidibé", "Sidibe"),
    ("Konaté", "Konate"), ("Dembélé", "Dembele"), ("Diallo", "Jallo"), ("Diallo", "Jalo"), ("Djénéba", "Jeneba"),
    ("Djénéba", "Ɲɛnɛba"), ("Ouattara", "Wattara"), ("Cissé", "Sise"), ("Maïga", "Mayga"), ("Hawa", "Awa"),
    ("Fatoumata", "Fatumata"), ("Moussa", "Musa"), ("Diakhité", "Jakité"), ("Ouologuem", "Wologem"),
]
DIFFERENT_NAMES = [("Traoré", "Touré"), ("Diallo", "Diarra"), ("Konaté", "Koné"), ("Awa", "Aminata"),
                   ("Sidibé", "Sissoko"), ("Moussa", "Mamadou")]


@pytest.mark.parametrize(("written", "other"), SAME_NAME)
def test_spellings_of_one_name_share_a_key(written, other):
    assert normalize.name_key(written) == normalize.name_key(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT_NAMES)
def test_different_names_keep_different_keys(one, other):
    assert normalize.name_key(one) != normalize.name_key(other)


def test_fold_removes_case_accents_and_punctuation_but_keeps_words():
    assert normalize.fold("  N'DIAYE-Traoré  Aïssata ") == "n diaye traore aissata"
    assert normalize.fold("Ɲɛnɛba Ŋɔni") == "nyeneba ngoni"


def test_index_tokens_keep_the_typed_variant_for_prefix_search():
    assert normalize.index_tokens("Tarawelé Fatoumata") == ["traore", "tarawele", "fatumata"]


def test_variant_table_never_maps_one_spelling_to_two_names():
    table = normalize._variants()
    assert table  # loaded, and the loader raises on a spelling listed under two names
    assert all(variant != canonical for variant, canonical in table.items())


@pytest.mark.parametrize(("typed", "digits"), [("+223 76 12 34 56", "76123456"), ("0022376123456", "76123456"),
                                               ("76-12-34-56", "76123456"), ("", "")])
def test_phone_numbers_are_kept_as_eight_national_digits(typed, digits):
    assert normalize.phone_key(typed) == digits


def test_place_key_ignores_accents_dashes_and_spelling():
    assert normalize.place_key("Ségou-Koura") == normalize.place_key("SEGOU KURA")
