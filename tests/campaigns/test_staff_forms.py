"""Staff app forms read into the API's request bodies, and the API's errors laid out by line."""

from __future__ import annotations

from msgspec import UNSET

from services.campaigns import staff_forms
from services.campaigns.staff_forms import FieldError


def test_lines_skip_blanks_and_remember_their_numbers() -> None:
    found = staff_forms.lines("\n  https://a.dk  \n\r\nhttps://b.dk\n\n")
    assert found.values == ["https://a.dk", "https://b.dk"]
    assert found.numbers == [2, 4]
    assert len(staff_forms.lines("x\n" * 500).values) == staff_forms.LINES_MAX


def test_site_form_becomes_a_create_and_a_patch() -> None:
    form: staff_forms.FormData = {
        "key": [" lund "],
        "name": ["Lund"],
        "country": ["SE"],
        "municipality": [""],
        "allowed_origins": ["https://a.se\n\nhttps://b.se"],
        "default_lists": ["kultur", "idraet"],
        "default_language": [""],
        "require_proof_of_work": ["on"],
    }
    created, origins = staff_forms.site_create(form)
    assert created.key == "lund" and created.municipality is None
    assert created.allowed_origins == ["https://a.se", "https://b.se"] and origins.numbers == [1, 3]
    assert created.default_lists == ["kultur", "idraet"] and created.require_proof_of_work
    assert created.default_language is None and created.thank_you_url is None
    patch, _ = staff_forms.site_patch(form)
    assert patch.default_language is UNSET and patch.name == "Lund"
    assert not staff_forms.site_create({})[0].require_proof_of_work


def test_field_form_reads_labels_choices_and_the_length_limit() -> None:
    form: staff_forms.FormData = {
        "key": ["district"],
        "type": ["choice"],
        "label_da": ["Bydel"],
        "label_sv": ["Stadsdel"],
        "label_en": ["District"],
        "choices": ["Nord\n\nSyd"],
        "max_length": [""],
    }
    created, choices = staff_forms.field_create(form)
    assert created.labels.sv == "Stadsdel" and created.choices == ["Nord", "Syd"]
    assert choices.numbers == [1, 3] and created.max_length is None
    assert not created.required and not created.public
    assert staff_forms.field_create({**form, "max_length": ["80"]})[0].max_length == 80
    # Not a whole number: a value the definition check refuses with its own message.
    assert staff_forms.field_create({**form, "max_length": ["1e9"]})[0].max_length == -1
    patch, _ = staff_forms.field_patch(form)
    assert patch.labels is not UNSET and patch.labels.da == "Bydel"


def test_errors_point_at_fields_and_lines() -> None:
    origins = staff_forms.lines("https://ok.dk\n\nftp://x\n*")
    errors = staff_forms.field_errors(
        {
            "allowed_origins[1]": "must start with https:// or http://",
            "allowed_origins[2]": "wildcards are not allowed; list each origin",
            "labels.da": "must not be empty",
            "name": "must not be empty",
        },
        {"allowed_origins": origins},
    )
    assert errors == [
        FieldError("allowed_origins", "must start with https:// or http://", 3),
        FieldError("allowed_origins", "wildcards are not allowed; list each origin", 4),
        FieldError("label_da", "must not be empty"),
        FieldError("name", "must not be empty"),
    ]


def test_values_that_are_not_text_count_as_empty() -> None:
    form: staff_forms.FormData = {"name": [b"bytes"], "default_lists": [1, "kultur"]}
    assert staff_forms.text(form, "name") == ""
    assert staff_forms.chosen(form, "default_lists") == ["kultur"]
