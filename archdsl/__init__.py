"""archdsl: an architecture-description language and graph compiler for convolutional networks.

    import archdsl
    ir = archdsl.load("specs/resnet50.arch")             # verified IR, no torch needed
    problems = archdsl.check("specs/resnet50.arch")      # every diagnostic
    model = archdsl.build("specs/resnet50.arch", num_classes=5)   # torch.nn.Module
    model = archdsl.build("resnet50", weights="resnet50.pth")     # a bundled network by name
    archdsl.list_models("resnet*")                                # the names it knows
    backbone = archdsl.build("resnet50", features_only=True)      # returns its 5 feature maps
"""

from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.limits import Limits

__version__ = "0.1.0"
__all__ = ["load", "check", "build", "feature_info", "list_models", "from_module", "ArchError", "Diagnostic",
           "Limits", "__version__"]


def __getattr__(name: str):
    """load, check, build, feature_info and list_models, imported when first asked for: they bring pydantic and lark
    (a few tenths of a second), which the command line imports only inside main(), where Ctrl-C is caught."""
    if name in ("load", "check", "build", "feature_info", "from_module"):
        from archdsl import api

        return getattr(api, name)
    if name == "list_models":
        from archdsl.zoo import list_models

        return list_models
    raise AttributeError(f"module 'archdsl' has no attribute {name!r}")
