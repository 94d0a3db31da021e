"""The IR: golden dumps, verifier, and per-node facts."""

import os
from pathlib import Path

import pytest

import archdsl
from archdsl.ir.nodes import TensorType
from archdsl.ir.printer import dump
from archdsl.ir.verify import VerificationError, verify
from conftest import spec_path

GOLDEN = Path(__file__).parent / "goldens" / "ir"


@pytest.mark.parametrize("name", ["resnet18", "resnet50d"])
def test_ir_dump_matches_golden(name):
    text = dump(archdsl.load(spec_path(name)))
    golden = GOLDEN / f"{name}.ir"
    if os.environ.get("ARCHDSL_UPDATE_GOLDENS"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_every_node_is_typed_placed_and_spanned():
    graph = archdsl.load(spec_path("resnext50_32x4d"))
    for node in graph.nodes():
        assert node.type is not None and node.span is not None and node.path
    assert graph.output_type == TensorType(channels=1000)
    conv2 = next(n for n in graph.nodes() if n.path == "layer3.0.conv2")
    assert (conv2.groups, conv2.stride, str(conv2.type)) == (32, (2, 2), "512x14x14")
    assert (conv2.span.line, conv2.span.col) == (15, 25)  # the [512,3x3] entry of the layer3 row


def test_verifier_catches_a_broken_graph():
    graph = archdsl.load(spec_path("resnet18"))
    node = graph[5]
    graph.replace(node.model_copy(update={"type": TensorType(channels=3, height=1, width=1)}))
    with pytest.raises(VerificationError, match="disagrees with inference"):
        verify(graph)


def test_a_replaced_node_and_its_users_are_inferred_again():
    graph = archdsl.load(spec_path("resnet18"))
    node = graph[5]
    users = graph.successors(5)
    assert {5, *users} <= graph.inferred  # the Emitter typed them: the verifier trusts them as they are
    graph.replace(node.model_copy(update={"out_channels": node.out_channels * 2}))
    assert not {5, *users} & graph.inferred
    with pytest.raises(VerificationError, match=r"%5 \(conv .*disagrees with inference"):
        verify(graph)


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "efficientnet", "convnext", "swin", "maxvit",
                                  "inception_v3", "deeplabv3", "unet"])
def test_the_emitters_types_are_what_the_verifier_infers(name):
    """The verifier skips inference for nodes the Emitter typed (graph.inferred); inferring every
    node again from its inputs must give the same types."""
    graph = archdsl.load(spec_path(name))
    assert len(graph.inferred) >= len(graph) - 2  # all but the input and output nodes
    graph.inferred.clear()
    verify(graph)


def test_input_size_override_changes_types_only():
    small = archdsl.load(spec_path("resnet50"), input_size=(3, 97, 97))
    assert str(small.input_type) == "3x97x97"
    assert str(next(n for n in small.nodes() if n.path == "layer4.2.bn3").type) == "2048x4x4"


def test_a_tensor_type_checks_its_fields_and_is_an_immutable_value():
    import dataclasses

    from archdsl.ir import nodes as N

    image = TensorType(channels=64, height=56, width=56)
    assert image == TensorType(shape=[64, 56, 56], axes=["c", "h", "w"]) and image.shape == (64, 56, 56)
    assert hash(image) == hash(TensorType(shape=(64, 56, 56), axes=("c", "h", "w")))
    assert image != TensorType(shape=(64, 56, 56), axes=("c", "h", "w"), batched=False)
    assert TensorType(channels=10) == TensorType(shape=(10,), axes=("c",)) and TensorType(channels=10).is_flat
    assert TensorType(shape=(2.0, 3), axes=("a", "b")).shape == (2, 3)  # a whole float, as pydantic took it

    class Size(int):
        pass

    assert type(TensorType(shape=(Size(4),), axes=("c",)).shape[0]) is int  # an int subclass, as a plain int
    assert repr(image) == "TensorType(shape=(64, 56, 56), axes=('c', 'h', 'w'), batched=True)"
    for shape, axes in (((1, 2), ("c",)), ((1, 2), ("a", "a"))):
        with pytest.raises(ValueError, match="do not name the sizes"):
            TensorType(shape=shape, axes=axes)
    for bad in ({"shape": (1.5,), "axes": ("c",)}, {"shape": ("3",), "axes": ("c",)},
                {"shape": (True,), "axes": ("c",)}, {"shape": (3,), "axes": ("c",), "batched": 1},
                {"shape": (3,)}, {"channels": 3, "shape": (3,), "axes": ("c",)}):
        with pytest.raises(TypeError):
            TensorType(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.shape = (1, 2, 3)
    node = N.Relu(id=1, inputs=(0,), path="relu", type=image)
    assert node.type is image  # a node keeps the type it is given
    with pytest.raises(Exception, match="TensorType"):
        N.Relu(id=1, inputs=(0,), path="relu", type={"shape": (1,), "axes": ("c",)})
