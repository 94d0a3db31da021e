"""archdsl: an architecture-description language and graph compiler for convolutional networks.

    import archdsl
    ir = archdsl.load("specs/resnet50.arch")             # verified IR, no torch needed
    problems = archdsl.check("specs/resnet50.arch")      # every diagnostic
    model = archdsl.build("specs/resnet50.arch", num_classes=5)   # torch.nn.Module
    model = archdsl.build("resnet50", weights="resnet50.pth")     # a bundled network by name
    archdsl.list_models("resnet*")                                # the names it knows
"""

from archdsl.api import build, check, load
from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.limits import Limits
from archdsl.zoo import list_models

__version__ = "0.1.0"
__all__ = ["load", "check", "build", "list_models", "ArchError", "Diagnostic", "Limits", "__version__"]
