"""The grading checks: correct solutions pass, each typical mistake gets its own diagnosis."""

import functools

import grading_mutants as gm
import pytest

from resnet_keras import blocks, grading, models

BLOCK_MISTAKES = {
    # bug -> (catalogue code, a phrase the student must read)
    "final_relu_missing": ("final_relu_missing", "final ReLU is missing"),
    "relu_before_add": ("relu_before_add", "ReLU is applied before the Add"),
    "shortcut_wrong_tensor": ("shortcut_wrong_tensor", "starts from the wrong tensor"),
    "middle_conv_valid_padding": ("middle_conv_valid_padding", "padding='same'"),
    "bn_wrong_axis": ("bn_wrong_axis", "axis=3"),
    "filters_wrong_order": ("filters_wrong_order", "wrong order"),
    "concatenate_instead_of_add": ("concatenate_instead_of_add", "Concatenate"),
    "training_not_passed": ("training_not_passed", "training=training"),
    "training_hard_coded": ("training_hard_coded", "training=True when"),
    "initializer_ignored": ("initializer_ignored", "initializer(seed=0)"),
    "bn_missing": ("bn_missing", "missing on the main path, after convolution 2"),
}
CONVOLUTIONAL_ONLY = {
    "stride_on_wrong_conv": ("stride_on_wrong_conv", "wrong convolution"),
    "shortcut_bn_missing": ("shortcut_bn_missing", "missing on the projection shortcut"),
}


def _assert_diagnosed(result: grading.CheckResult, code: str, phrase: str) -> None:
    assert not result.passed
    assert result.score < 1
    assert result.mistakes[0] == code, result.messages
    assert phrase in result.messages[0]


def _assert_readable(result: grading.CheckResult) -> None:
    """Messages for a student: short, no tensor dumps."""
    for message in result.messages:
        assert len(message) < 700, message
        assert "array(" not in message and "tf.Tensor" not in message


@pytest.mark.parametrize("bug", sorted(BLOCK_MISTAKES))
def test_identity_block_mistake_is_named(bug):
    result = grading.check_identity_block(gm.identity_mutant(bug), raises=False, quiet=True)
    _assert_diagnosed(result, *BLOCK_MISTAKES[bug])
    _assert_readable(result)


@pytest.mark.parametrize("bug", sorted({**BLOCK_MISTAKES, **CONVOLUTIONAL_ONLY}))
def test_convolutional_block_mistake_is_named(bug):
    fn = gm.convolutional_mutant(bug)
    result = grading.check_convolutional_block(fn, raises=False, quiet=True)
    _assert_diagnosed(result, *{**BLOCK_MISTAKES, **CONVOLUTIONAL_ONLY}[bug])
    _assert_readable(result)


@pytest.mark.parametrize(
    "fn", [blocks.identity_block, gm.course_identity_block, gm.ops_identity_block]
)
def test_correct_identity_blocks_pass(fn, capsys):
    result = grading.check_identity_block(fn)
    assert result.passed and result.score == 1.0 and not result.mistakes
    assert capsys.readouterr().out.startswith("PASSED identity_block")


@pytest.mark.parametrize(
    "fn", [blocks.convolutional_block, gm.course_convolutional_block, gm.ops_convolutional_block]
)
def test_correct_convolutional_blocks_pass(fn):
    assert grading.check_convolutional_block(fn, quiet=True).passed


def test_failure_raises_assertion_naming_the_mistake():
    with pytest.raises(AssertionError, match="identity_block: the final ReLU is missing"):
        grading.check_identity_block(gm.identity_mutant("final_relu_missing"), quiet=True)


def _placeholder(X, f, filters, training=True, initializer=None):
    # YOUR CODE STARTS HERE
    raise NotImplementedError
    # YOUR CODE ENDS HERE


def _forgets_return(X, f, filters, training=True, initializer=None):
    gm.course_identity_block(X, f, filters, training, initializer)


def _typo(X, f, filters, training=True, initializer=None):
    return X.shapee


def _tensorflow_op(X, f, filters, training=True, initializer=None):
    import tensorflow as tf

    X = gm.course_identity_block(X, f, filters, training, initializer, bug="final_relu_missing")
    return tf.nn.relu(X)


@pytest.mark.parametrize(
    ("fn", "code", "phrase"),
    [
        (_placeholder, "not_implemented", "not implemented yet: write your code between"),
        (_forgets_return, "returned_none", "returned None"),
        (_typo, "raised", "AttributeError"),
        (_tensorflow_op, "not_symbolic", "symbolic keras.Input"),
    ],
)
def test_broken_functions_get_plain_messages(fn, code, phrase):
    result = grading.check_identity_block(fn, raises=False, quiet=True)
    _assert_diagnosed(result, code, phrase)
    assert result.score == (0.5 if code == "not_symbolic" else 0)  # its values are right
    _assert_readable(result)


def test_crash_message_points_at_the_students_line():
    result = grading.check_identity_block(_typo, raises=False, quiet=True)
    assert "`return X.shapee`" in result.messages[0]


def test_partial_credit_orders_mistakes():
    right_structure = grading.check_identity_block(
        gm.identity_mutant("training_not_passed"), raises=False, quiet=True
    )
    wrong_everywhere = grading.check_identity_block(
        gm.identity_mutant("final_relu_missing"), raises=False, quiet=True
    )
    assert 0 < right_structure.score < 1
    assert wrong_everywhere.score < right_structure.score


def test_describe_gives_layer_rows():
    rows = grading.describe_rows(grading._reference_resnet50()[0])
    assert len(rows) == 177
    first_conv = next(r for r in rows if r["layer"] == "Conv2D")
    assert first_conv["kernel_size"] == (7, 7) and first_conv["strides"] == (2, 2)
    assert first_conv["output_shape"] == (32, 32, 64) and first_conv["params"] == 9472
    assert rows[-1]["layer"] == "Softmax"
    assert sum(r["params"] for r in rows) == 23_600_006


RESNET_MISTAKES = {
    "stage_blocks": ({"stage_blocks": (2, 3, 4, 2)}, "block_count", "stage 4 has 4 identity"),
    "softmax": ({"softmax": False}, "dense_no_softmax", "no softmax"),
    "softmax_ops": ({"softmax": False, "style": "ops"}, "dense_no_softmax", "no softmax"),
    "max_pool": ({"pooling": "max"}, "wrong_pooling", "MaxPooling2D"),
    "global_pool": ({"pooling": "global"}, "wrong_pooling", "GlobalAveragePooling2D"),
    "block": ({"identity_bug": "relu_before_add"}, "block_in_model", "stage 2, identity block 1"),
}


@pytest.mark.parametrize("mistake", sorted(RESNET_MISTAKES))
def test_resnet50_mistake_is_named(mistake):
    options, code, phrase = RESNET_MISTAKES[mistake]
    fn = functools.partial(gm.course_resnet50, **options)
    result = grading.check_resnet50(fn, raises=False, quiet=True)
    _assert_diagnosed(result, code, phrase)
    _assert_readable(result)


@pytest.mark.parametrize(
    "fn",
    [models.ResNet50, gm.course_resnet50, functools.partial(gm.course_resnet50, style="ops")],
    ids=["reference", "course_style", "ops_style"],
)
def test_correct_resnet50s_pass(fn):
    result = grading.check_resnet50(fn, quiet=True)
    assert result.passed and "23,600,006" in result.messages[0]


def test_resnet50_returning_none_or_placeholder():
    result = grading.check_resnet50(lambda **_: None, raises=False, quiet=True)
    _assert_diagnosed(result, "returned_none", "return model")

    def placeholder(input_shape=(64, 64, 3), classes=6):
        raise NotImplementedError

    result = grading.check_resnet50(placeholder, raises=False, quiet=True)
    _assert_diagnosed(result, "not_implemented", "YOUR CODE STARTS HERE")


def test_checks_table_names_every_exercise():
    assert set(grading.CHECKS) == {"identity_block", "convolutional_block", "ResNet50"}


def test_the_issue_catalogue_is_covered_by_mutants():
    required = {
        "final_relu_missing",
        "relu_before_add",
        "shortcut_wrong_tensor",
        "middle_conv_valid_padding",
        "stride_on_wrong_conv",
        "shortcut_bn_missing",
        "bn_wrong_axis",
        "filters_wrong_order",
        "concatenate_instead_of_add",
        "training_not_passed",
        "block_count",
        "dense_no_softmax",
        "wrong_pooling",
    }
    tested = {code for code, _ in {**BLOCK_MISTAKES, **CONVOLUTIONAL_ONLY}.values()}
    tested |= {code for _, code, _ in RESNET_MISTAKES.values()}
    assert required <= tested <= set(grading.MISTAKES)
