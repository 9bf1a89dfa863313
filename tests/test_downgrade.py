"""The LLVM 14 -> LLVM 10 IR rewrite: what it changes, what it must leave alone, what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supersonic.envs.errors import ConversionError
from supersonic.envs.llvm.downgrade import (
    DowngradeError,
    count_instructions,
    downgrade_ir,
    tokenize,
)


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_tokens_concatenate_back_to_the_input(text: str) -> None:
    try:
        tokens = tokenize(text)
    except DowngradeError:
        assert text.count('"') % 2 == 1  # only an unterminated string is refused
        return
    assert "".join(t.text for t in tokens) == text


def test_drops_newer_attributes_with_their_arguments() -> None:
    ir = (
        "define noundef i32 @f(i32 noundef %a, i8* noundef) #0 {\n  ret i32 %a\n}\n"
        "attributes #0 = { mustprogress nounwind vscale_range(1,16) willreturn }\n"
    )
    out = downgrade_ir(ir)
    assert out == (
        "define i32 @f(i32 %a, i8*) #0 {\n  ret i32 %a\n}\n"
        "attributes #0 = { nounwind willreturn }\n"
    )


def test_poison_becomes_undef() -> None:
    out = downgrade_ir("  %v = insertelement <2 x i32> poison, i32 %a, i32 0\n")
    assert out == "  %v = insertelement <2 x i32> undef, i32 %a, i32 0\n"


@pytest.mark.parametrize(
    "ir",
    [
        '@s = constant [8 x i8] c"noundef\\00"\n',  # a string constant
        "; noundef in a comment\n",
        "%noundef = add i32 1, 2\n",  # a value named like the keyword
        "@poison = global i32 0\n",
        '!0 = !{!"mustprogress"}\n',  # metadata strings
        'attributes #1 = { "noundef"="x" }\n',  # a string attribute
        "noundef:\n  br label %noundef\n",  # a basic-block label
    ],
)
def test_leaves_names_strings_comments_and_labels_alone(ir: str) -> None:
    assert downgrade_ir(ir) == ir


@pytest.mark.parametrize(
    ("ir", "what"),
    [
        ("declare void @f(%T* byref(%T) %p)\n", "byref"),
        ("define void @g(ptr %p) {\n  ret void\n}\n", "opaque pointers"),
        ("declare void @h(i32* preallocated(i32))\n", "preallocated"),
    ],
)
def test_refuses_what_llvm10_cannot_mean(ir: str, what: str) -> None:
    with pytest.raises(DowngradeError, match=what) as info:
        downgrade_ir(ir)
    assert isinstance(info.value, ConversionError)
    assert "line 1" in str(info.value)


def test_unterminated_string_is_an_error_not_a_hang() -> None:
    with pytest.raises(DowngradeError, match="unterminated"):
        downgrade_ir('@s = constant [2 x i8] c"ab\n')


def test_count_instructions_handles_labels_switches_and_declarations() -> None:
    ir = """declare i32 @ext(i32)

define i32 @f(i32 %x) {
entry:
  %c = icmp eq i32 %x, 0 ; a comment
  switch i32 %x, label %d [
    i32 0, label %a
    i32 1, label %a
  ]

a:                                                ; preds = %entry
  ret i32 1

d:
  ret i32 0
}
"""
    assert count_instructions(ir) == 4
