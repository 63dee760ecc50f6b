"""MiniGrid's partial egocentric view, computed in NumPy from the encoded full grid.

The same array as the package's ``MiniGridEnv.gen_obs()["image"]`` (minigrid 3.x,
``minigrid_env.py`` gen_obs_grid and ``core/grid.py`` slice, rotate_left, process_vis and
encode), for the default 7 x 7 view without see-through walls:

1. the 7 x 7 window of the grid at ``get_view_exts``'s top corner, cells outside the grid
   being walls;
2. turned left ``direction + 1`` times, so the agent sits at (3, 6) facing up;
3. visibility spread from the agent's cell, row by row from the bottom, past every cell but
   walls and closed or locked doors (process_vis, the only occluders: ``see_behind`` is
   False for ``Wall`` and a shut ``Door`` alone);
4. unseen cells encoded (0, 0, 0), an empty cell (1, 0, 0), and the agent's own cell shows
   what it carries (or empty).

The package builds a ``Grid`` of ``WorldObj`` for the window and turns it cell by cell;
`SymbolicView` keeps the grid's encoding (it needs it for its state keys), so a view is a
slice of that array. Measured on MultiRoomN6S5 (the package's MultiRoom-N4-S5-v0, 6 rooms)
with 256 envs in a SyncVectorEnv and random actions: see `SymbolicView` (x1.7-2.0).
`tests/test_minigrid_view.py` holds the two equal step by step on every catalogued layout
family (doors, keys, balls, boxes, carried objects).
"""

from __future__ import annotations

import numpy as np

#: Side of the agent's view (minigrid's default ``agent_view_size``).
VIEW = 7
#: minigrid.core.constants: object indices of empty, wall and door; a wall's full code.
_EMPTY, _WALL, _DOOR = 1, 2, 4
_WALL_CODE = (_WALL, 5, 0)  # grey wall, no state
#: Where the agent stands in its own view (minigrid: width // 2, height - 1).
AGENT_CELL = (VIEW // 2, VIEW - 1)


def pad_grid(encoded: np.ndarray) -> np.ndarray:
    """``encoded`` (width, height, 3), as ``Grid.encode()`` gives it, ringed with ``VIEW``
    cells of wall: what ``Grid.slice`` reads outside the grid."""
    width, height, _ = encoded.shape
    padded = np.empty((width + 2 * VIEW, height + 2 * VIEW, 3), dtype=np.uint8)
    padded[...] = np.asarray(_WALL_CODE, dtype=np.uint8)
    padded[VIEW : VIEW + width, VIEW : VIEW + height] = encoded
    return padded


def visible(view: np.ndarray) -> np.ndarray:
    """minigrid's ``Grid.process_vis`` on an encoded (7, 7, 3) view: a (7, 7) bool mask."""
    codes = view[..., 0]
    clear = (~((codes == _WALL) | ((codes == _DOOR) & (view[..., 2] != 0)))).tolist()
    mask = [[False] * VIEW for _ in range(VIEW)]
    mask[AGENT_CELL[0]][AGENT_CELL[1]] = True
    # Plain lists: 49 cells read one by one cost less as Python objects than as array items.
    for j in range(VIEW - 1, -1, -1):
        for i in range(VIEW - 1):
            if mask[i][j] and clear[i][j]:
                mask[i + 1][j] = True
                if j > 0:
                    mask[i + 1][j - 1] = mask[i][j - 1] = True
        for i in range(VIEW - 1, 0, -1):
            if mask[i][j] and clear[i][j]:
                mask[i - 1][j] = True
                if j > 0:
                    mask[i - 1][j - 1] = mask[i][j - 1] = True
    return np.asarray(mask, dtype=bool)


def egocentric_view(
    padded: np.ndarray, top: tuple[int, int], direction: int, carried: tuple[int, ...] | None
) -> np.ndarray:
    """The (7, 7, 3) uint8 view of an agent facing ``direction`` whose window's top corner
    is ``top`` (``MiniGridEnv.get_view_exts()[:2]``), over a `pad_grid` array; ``carried``
    is the carried object's encoding, or None."""
    x, y = top[0] + VIEW, top[1] + VIEW
    # rotate_left maps cell (i, j) to (j, width - 1 - i): a clockwise np.rot90 on [x, y].
    view = np.rot90(padded[x : x + VIEW, y : y + VIEW], -(direction + 1), axes=(0, 1))
    image = np.where(visible(view)[..., None], view, np.uint8(0))
    image[AGENT_CELL] = (_EMPTY, 0, 0) if carried is None else carried
    return image
