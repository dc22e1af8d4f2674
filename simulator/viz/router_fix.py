"""A one-word fix to Solara's router template, which makes the browser warn on every page load.

Solara 1.58.2 (pinned: the last version with offline assets) ships
`widgets/vue/navigator.vue` with `modules.export = {...}` instead of
`module.exports = {...}`, so ipyvue logs "Failed to evaluate Vue script and
find module.exports, falling back to old method" in the browser console. The
fix hands the router widget the corrected template text; it does nothing
once Solara's own file is right.
"""

from __future__ import annotations

from pathlib import Path

TYPO, FIXED = "modules.export =", "module.exports ="


def fix_router_template() -> bool:
    """Give Solara's router widget a corrected template; True if one was needed."""
    from solara.widgets import widgets

    navigator = widgets.Navigator
    if getattr(navigator, "_infogap_template", None) is not None:
        return True
    path = navigator.template_file
    text = Path(path).read_text(encoding="utf-8") if path else ""
    if TYPO not in text:
        return False
    template = text.replace(TYPO, FIXED, 1)
    original_init = navigator.__init__

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("template", template)
        original_init(self, *args, **kwargs)

    navigator._infogap_template = template
    navigator.template_file = None  # so ipyvue does not load (and watch) the file
    navigator.__init__ = __init__
    return True
