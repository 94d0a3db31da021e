"""An archdsl model under torch's DistributedDataParallel: gloo, 2 local CPU processes.

Each rank trains on its half of every batch (examples/train_digits_ddp.py's worker); with a
mean loss DDP averages the ranks' gradients, which is the gradient of the full batch's mean
loss. So the ranks must end identical, and equal to one process trained on the full batches:
exactly so for a network without BatchNorm. With BatchNorm each rank normalises by its own
half's statistics (SyncBatchNorm, which would share them, needs a GPU), so the one-process
equivalent forwards each half on its own; and DDP broadcasts rank 0's running statistics
before every forward, so rank 0's are those of its halves alone. docs/training.md says this.
"""

import socket
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import train_digits  # noqa: E402
import train_digits_ddp  # noqa: E402

WORLD = 2
# 256 images in batches of 64: 4 steps, every batch split evenly between the two ranks
RUN = {"images": 256, "epochs": 1, "batch_size": 64, "lr": 0.1, "seed": 0}
BN_RUN = {**RUN, "spec": str(train_digits.SPEC), "params": {"width": 8}}
PLAIN_SPEC = """\
network digits_plain
input 1x8x8
param num_classes = 10
default conv bias=true

stem
  conv1  conv 16 3x3 pad=1
  relu1  relu
  conv2  conv 32 3x3 pad=1
  relu2  relu
  pool   maxpool 2x2

head
  avgpool  global_avgpool
  flatten
  fc       linear num_classes
"""
PLAIN_RUN = {**RUN, "spec": PLAIN_SPEC}
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Each run's saved results, one per rank: [[rank0, rank1] for the BN run, ... for the plain run].

    The ranks start in an environment that would break a rendezvous through it (what a shell, a
    launcher or an earlier test can leave behind): MASTER_ADDR/MASTER_PORT at a port another
    socket holds, and TORCHELASTIC_USE_AGENT_STORE, which makes env:// wait for torchrun's store.
    They meet through a file of their own (train_digits_ddp.rendezvous), which reads none of it."""
    out = tmp_path_factory.mktemp("ddp")
    x, y, _, _ = train_digits.load_digits_split(RUN["seed"])
    data = (x[:RUN["images"]], y[:RUN["images"]])  # so the ranks need not import scikit-learn
    runs = [{**BN_RUN, "data": data}, {**PLAIN_RUN, "data": data}]
    with socket.socket() as taken, pytest.MonkeyPatch.context() as env:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env.setenv("MASTER_ADDR", "127.0.0.1")
        env.setenv("MASTER_PORT", str(taken.getsockname()[1]))
        env.setenv("TORCHELASTIC_USE_AGENT_STORE", "True")
        train_digits_ddp.spawn(train_digits_ddp.worker, (WORLD, train_digits_ddp.rendezvous(out), runs, str(out)),
                               WORLD, timeout=300)  # a loaded 2-core machine can take minutes
    return [[torch.load(out / f"{index}-rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
            for index in range(len(runs))]


def test_the_ranks_meet_through_a_fresh_file_of_their_own(tmp_path):
    """No TCP port to race for (a probed free port can be taken before rank 0 binds it) and no
    environment read: a file in the run's own folder, refused if a run left one there."""
    url = train_digits_ddp.rendezvous(tmp_path)
    assert url == (tmp_path / "rendezvous").resolve().as_uri() and url.startswith("file://")
    (tmp_path / "rendezvous").touch()
    with pytest.raises(FileExistsError):
        train_digits_ddp.rendezvous(tmp_path)


@pytest.fixture(autouse=True)
def one_thread():
    """The references train in this process; one thread keeps it quick on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def one_process(run: dict, loss_fn=train_digits.cross_entropy):
    """(initial state_dict, trained state_dict) of `run` in this process, on the full batches."""
    x, y, _, _ = train_digits.load_digits_split(run["seed"])
    torch.manual_seed(run["seed"])
    model = train_digits.archdsl.build(run["spec"], **run.get("params", {}))
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    train_digits.train(model, x[:run["images"]], y[:run["images"]], epochs=run["epochs"],
                       batch_size=run["batch_size"], lr=run["lr"], seed=run["seed"], loss_fn=loss_fn)
    return initial, model.state_dict()


def halves_as_ranks(model, x, y):
    """The full batch's loss as the ranks compute it: each half forwarded on its own (its own
    BatchNorm statistics), the two mean losses averaged; the running statistics kept from the
    first half only, as rank 0's are."""
    first = train_digits.cross_entropy(model, x[0::2], y[0::2])
    kept = {name: buffer.clone() for name, buffer in model.named_buffers()}
    second = train_digits.cross_entropy(model, x[1::2], y[1::2])
    for name, buffer in kept.items():  # put back as new tensors: autograd saved the old ones
        owner, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(owner), leaf, buffer)
    return (first + second) / 2


def parameters(state: dict, model_spec: dict) -> dict:
    """The trainable entries of a state_dict (not BatchNorm's running statistics)."""
    model = train_digits.archdsl.build(model_spec["spec"], **model_spec.get("params", {}))
    return {name: state[name] for name, _ in model.named_parameters()}


def assert_state_close(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], **TOLERANCE, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("index,run", [(0, BN_RUN), (1, PLAIN_RUN)], ids=["batchnorm", "plain"])
def test_ranks_hold_identical_parameters(ranks, index, run):
    rank0, rank1 = ranks[index]
    assert all(torch.isfinite(torch.tensor(loss)) for loss in rank0["losses"] + rank1["losses"])
    for name, value in parameters(rank0["state_dict"], run).items():
        assert torch.equal(value, rank1["state_dict"][name]), name


def test_plain_network_equals_one_process_on_the_full_batch(ranks):
    initial, expected = one_process(PLAIN_RUN)
    assert_state_close(ranks[1][0]["state_dict"], expected)
    moved = max((expected[name] - initial[name]).abs().max().item() for name in expected)
    assert moved > 100 * TOLERANCE["atol"], "training barely moved the weights: the comparison shows nothing"


def test_batchnorm_network_equals_one_process_forwarding_each_half(ranks):
    _, expected = one_process(BN_RUN, loss_fn=halves_as_ranks)
    assert_state_close(ranks[0][0]["state_dict"], expected)


def test_batchnorm_network_differs_from_plain_full_batch_training(ranks):
    """Why the BatchNorm reference forwards halves: full-batch statistics give other weights."""
    _, full_batch = one_process(BN_RUN)
    got = parameters(ranks[0][0]["state_dict"], BN_RUN)
    worst = max((got[name] - full_batch[name]).abs().max().item() for name in got)
    assert worst > 100 * TOLERANCE["atol"]


def test_rank1_running_statistics_are_its_own_after_the_last_step(ranks):
    """DDP broadcasts rank 0's buffers before each forward, so after the last step rank 1's
    running statistics hold its own last half: evaluate or save rank 0's model."""
    rank0, rank1 = (result["state_dict"] for result in ranks[0])
    assert not torch.equal(rank0["bn1.running_mean"], rank1["bn1.running_mean"])
    assert torch.equal(rank0["bn1.num_batches_tracked"], rank1["bn1.num_batches_tracked"])
