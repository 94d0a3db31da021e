"""archdsl: an architecture-description language and graph compiler for convolutional networks.

    import archdsl
    ir = archdsl.load("specs/resnet50.arch")             # verified IR, no torch needed
    problems = archdsl.check("specs/resnet50.arch")      # every diagnostic
    model = archdsl.build("specs/resnet50.arch", num_classes=5)   # torch.nn.Module
"""

from archdsl.api import build, check, load
from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.limits import Limits

__version__ = "0.1.0"
__all__ = ["load", "check", "build", "ArchError", "Diagnostic", "Limits", "__version__"]
