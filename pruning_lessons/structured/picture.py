"""A picture of the dependency groups: which layers must lose the same units."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .groups import UnitGroup

#: Colour and caption of each role a tensor plays in a group.
ROLES = {
    "producer": ("#4c72b0", "makes the units (rows)"),
    "norm": ("#55a868", "scales them (norm, layer scale)"),
    "consumer": ("#dd8452", "reads them (columns)"),
}


def plot_unit_groups(groups: list[UnitGroup], *, title: str = "", ax=None):
    """One row per group: its layers as boxes coloured by role; kept-whole groups greyed.

    Every box in a row loses the same units when the group is pruned: the producers' rows,
    the norms' entries and the consumers' input columns. Returns the matplotlib figure.
    """
    rows = []
    for group in groups:
        seen: dict[tuple[str, str], None] = {}
        for member in group.members:
            if member.role in ROLES:
                seen.setdefault((member.name or "model", member.role))
        rows.append((group, list(seen)))
    width = max((len(boxes) for _, boxes in rows), default=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2.0 + 1.9 * width, 16), 0.75 * len(rows) + 0.8))
    for y, (group, boxes) in enumerate(rows):
        top = len(rows) - 1 - y
        label = f"{group.size} units" + ("\nkept whole" if group.pinned else "")
        ax.text(-0.15, top, label, ha="right", va="center", fontsize=8)
        for x, (name, role) in enumerate(boxes):
            colour = "#bbbbbb" if group.pinned else ROLES[role][0]
            ax.add_patch(plt.Rectangle((x, top - 0.35), 0.92, 0.7, color=colour, alpha=0.85, lw=0))
            short = name if len(name) <= 18 else "…" + name[-17:]
            ax.text(x + 0.46, top, short, ha="center", va="center", fontsize=7, color="white")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c, _ in ROLES.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#bbbbbb"))
    captions = [caption for _, caption in ROLES.values()] + ["kept whole (see .pinned)"]
    ax.legend(
        handles,
        captions,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=4,
        fontsize=7,
        frameon=False,
    )
    ax.set_xlim(-1.2, width)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return ax.figure
