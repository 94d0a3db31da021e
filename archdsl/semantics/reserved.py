"""Names a layer or block may not have: they would become attributes of the torch module.

A named statement becomes a submodule at its module path (`layer1.0.conv1`), and
the generated forward names its value after it. A name torch's `nn.Module` or
`fx.GraphModule` already uses for an attribute or method (`training`, `forward`,
`graph`), one starting with `_` (torch's private attributes), `self`, or a Python
keyword cannot be either. tests/test_checks.py holds this list to the live classes.
"""

from __future__ import annotations

import keyword
from functools import lru_cache

#: public attributes and methods of torch.fx.GraphModule (and so of nn.Module), torch 2.x
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module add_submodule apply bfloat16 buffers call_super_init children code compile
cpu cuda delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float
forward get_buffer get_extra_state get_parameter get_submodule graph half ipu load_state_dict meta
modules mtia named_buffers named_children named_modules named_parameters parameters print_readable
recompile register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule shape_env share_memory
state_dict to to_empty to_folder train training type xpu zero_grad
""".split()) | {"feature_info"}  # set by build(features_only=True), as timm's features_only models have it


@lru_cache(maxsize=4096)
def why_reserved(name: str) -> str | None:
    """Why `name` cannot name a layer or block, or None if it can."""
    if name.startswith("_"):
        return "names starting with `_` belong to torch's own module attributes"
    if name == "self" or keyword.iskeyword(name):
        return f"`{name}` is a word of Python, the language the generated forward is written in"
    if name in MODULE_ATTRIBUTES:
        return f"`{name}` is already an attribute of the torch module archdsl builds (`model.{name}`)"
    return None
